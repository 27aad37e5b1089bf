# One rule per similarity method: a config-defined taxonomy (facets, Wu–Palmer tree), TextEmb
# and TaskEmb.


rule taxonomy_similarity:
    output:
        "results/{run}/similarity/taxonomy.parquet",
    log:
        "logs/{run}/similarity/taxonomy.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    params:
        facets=get_taxonomy_facets,
        method="taxonomy",
        setting=config["similarity"]["taxonomy_weights"],
        models=GRID.models,
        sources=GRID.sources,
        targets=GRID.targets,
    script:
        "../scripts/taxonomy_similarity.py"


rule wu_palmer_similarity:
    output:
        "results/{run}/similarity/wu_palmer.parquet",
    log:
        "logs/{run}/similarity/wu_palmer.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    params:
        facets=get_taxonomy_facets,
        method="wu_palmer",
        setting=config["similarity"]["taxonomy_tree"],
        models=GRID.models,
        sources=GRID.sources,
        targets=GRID.targets,
    script:
        "../scripts/taxonomy_similarity.py"


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


rule task_similarity:
    input:
        expand(
            "results/{{run}}/similarity/{method}.parquet",
            method=config["similarity"]["methods"],
        ),
    output:
        "results/{run}/similarity.parquet",
    log:
        "logs/{run}/similarity/merge.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    script:
        "../scripts/merge_similarity.py"
