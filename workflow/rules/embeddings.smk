# Similarity from task data: task embeddings (Vu et al. 2020) and the vocabulary-overlap baseline.
# They read the tasks' data (and models), so they run only on a grid this workflow trains.

# What decides one task's vectors under each method (`task_embedding`), and what decides how
# the tasks' vectors are compared: a setting of one method reruns only that method's jobs.
EMBEDDING_SETTINGS = {
    "textemb": canonical(
        {
            "examples": config["similarity"]["embedding_examples"],
            "textemb_all_examples": config["similarity"]["textemb_all_examples"],
            "textemb_qa_windows": config["similarity"]["textemb_qa_windows"],
            "max_length": config["training"]["source"]["max_length"],
            "seed": config["analysis"]["seed"],
        }
    ),
    "taskemb": canonical(
        {
            "examples": config["similarity"]["embedding_examples"],
            "taskemb_model": config["similarity"]["taskemb_model"],
            "taskemb_labels": config["similarity"]["taskemb_labels"],
            "taskemb_estimator": config["similarity"]["taskemb_estimator"],
            "max_length": config["training"]["source"]["max_length"],
            "seed": config["analysis"]["seed"],
        }
        | taskemb_fisher_options(config["similarity"])
    ),
    "task2vec": canonical(
        {
            "examples": config["similarity"]["embedding_examples"],
            "taskemb_model": "task2vec",
            "max_length": config["training"]["source"]["max_length"],
            "seed": config["analysis"]["seed"],
        }
    ),
}
COMPARISON_SETTINGS = {
    "textemb": {"textemb_centre": config["similarity"]["textemb_centre"]},
    "taskemb": canonical(
        {
            "taskemb_model": config["similarity"]["taskemb_model"],
            "taskemb_combine": config["similarity"]["taskemb_combine"],
        }
    ),
    "task2vec": canonical(
        {
            "taskemb_model": "task2vec",
            "taskemb_combine": config["similarity"]["taskemb_combine"],
        }
    ),
}


# One task's vectors under one model: a task added to the grid, or one whose checkpoint
# changed, is embedded alone, and a temporary target-only checkpoint is read while it exists.
rule task_embedding:
    input:
        unpack(get_task_embedding_input),
    output:
        "results/{run}/embeddings/{method}/{model}/{task}.parquet",
    log:
        "logs/{run}/embeddings/{method}/{model}/{task}.log",
    wildcard_constraints:
        method="textemb|taskemb|task2vec",
    conda:
        "../../envs/training.yaml"
    threads: get_resource("evaluate", "threads")
    resources:
        mem_mb=get_resource("evaluate", "mem_mb"),
        runtime=get_resource("evaluate", "runtime"),
        gpu=get_resource("evaluate", "gpu"),
    params:
        embedder=get_task_embedder,
        head=get_task_kind_name,
        settings=get_embedding_settings,
    script:
        "../scripts/task_embedding.py"


rule textemb_similarity:
    input:
        vectors=get_task_vectors("textemb"),
    output:
        similarity="results/{run}/similarity/textemb.parquet",
        vectors="results/{run}/embeddings/textemb.parquet",
    log:
        "logs/{run}/similarity/textemb.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    params:
        method="textemb",
        sources=GRID.sources,
        targets=GRID.targets,
        settings=COMPARISON_SETTINGS["textemb"],
    script:
        "../scripts/embedding_similarity.py"


rule taskemb_similarity:
    input:
        vectors=get_task_vectors("taskemb"),
    output:
        similarity="results/{run}/similarity/taskemb.parquet",
        vectors="results/{run}/embeddings/taskemb.parquet",
    log:
        "logs/{run}/similarity/taskemb.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    params:
        method="taskemb",
        sources=GRID.sources,
        targets=GRID.targets,
        settings=COMPARISON_SETTINGS["taskemb"],
    script:
        "../scripts/embedding_similarity.py"


rule task2vec_similarity:
    input:
        vectors=get_task_vectors("task2vec"),
    output:
        similarity="results/{run}/similarity/task2vec.parquet",
        vectors="results/{run}/embeddings/task2vec.parquet",
    log:
        "logs/{run}/similarity/task2vec.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    params:
        method="task2vec",
        sources=GRID.sources,
        targets=GRID.targets,
        settings=COMPARISON_SETTINGS["task2vec"],
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
