# Similarity from task data: task embeddings (Vu et al. 2020) and the vocabulary-overlap baseline.
# They read the tasks' data (and models), so they run only on a grid this workflow trains.

EMBEDDING_SETTINGS = {
    "examples": config["similarity"]["embedding_examples"],
    "taskemb_model": config["similarity"]["taskemb_model"],
    "taskemb_labels": config["similarity"]["taskemb_labels"],
    "taskemb_estimator": config["similarity"]["taskemb_estimator"],
    "taskemb_combine": config["similarity"]["taskemb_combine"],
    "textemb_centre": config["similarity"]["textemb_centre"],
    "textemb_all_examples": config["similarity"]["textemb_all_examples"],
    "textemb_qa_windows": config["similarity"]["textemb_qa_windows"],
    "max_length": config["training"]["source"]["max_length"],
    "seed": config["analysis"]["seed"],
    "threads": config["resources"]["evaluate"]["threads"],
}


rule textemb_similarity:
    input:
        unpack(get_embedding_inputs("textemb")),
    output:
        similarity="results/{run}/similarity/textemb.parquet",
        vectors="results/{run}/embeddings/textemb.parquet",
    log:
        "logs/{run}/similarity/textemb.log",
    conda:
        "../../envs/training.yaml"
    threads: get_resource("evaluate", "threads")
    resources:
        mem_mb=get_resource("evaluate", "mem_mb"),
        runtime=get_resource("evaluate", "runtime"),
        gpu=get_resource("evaluate", "gpu"),
    params:
        method="textemb",
        task_models=get_embedding_models("textemb"),
        tasks=embedding_tasks(),
        heads=embedding_heads(),
        sources=GRID.sources,
        targets=GRID.targets,
        settings=EMBEDDING_SETTINGS,
    script:
        "../scripts/embedding_similarity.py"


rule taskemb_similarity:
    input:
        unpack(get_embedding_inputs("taskemb")),
    output:
        similarity="results/{run}/similarity/taskemb.parquet",
        vectors="results/{run}/embeddings/taskemb.parquet",
    log:
        "logs/{run}/similarity/taskemb.log",
    conda:
        "../../envs/training.yaml"
    threads: get_resource("evaluate", "threads")
    resources:
        mem_mb=get_resource("evaluate", "mem_mb"),
        runtime=get_resource("evaluate", "runtime"),
        gpu=get_resource("evaluate", "gpu"),
    params:
        method="taskemb",
        task_models=get_embedding_models("taskemb"),
        tasks=embedding_tasks(),
        heads=embedding_heads(),
        sources=GRID.sources,
        targets=GRID.targets,
        settings=EMBEDDING_SETTINGS,
    script:
        "../scripts/embedding_similarity.py"


rule vocab_overlap_similarity:
    input:
        get_embedding_train_files,
    output:
        "results/{run}/similarity/vocab_overlap.parquet",
    log:
        "logs/{run}/similarity/vocab_overlap.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    params:
        size=config["similarity"]["vocabulary_size"],
        tasks=embedding_tasks(),
        heads=embedding_heads(),
        models=GRID.models,
        sources=GRID.sources,
        targets=GRID.targets,
    script:
        "../scripts/vocabulary_similarity.py"
