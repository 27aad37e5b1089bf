# The taxonomy methods (facet agreement, Wu–Palmer tree) and the merge of every method's table;
# TextEmb and TaskEmb, which need models and task data, are in embeddings.smk.


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
        setting=canonical(config["similarity"]["taxonomy_weights"]),
        models=DESIGN.models,
        sources=DESIGN.sources,
        targets=DESIGN.targets,
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
        models=DESIGN.models,
        sources=DESIGN.sources,
        targets=DESIGN.targets,
    script:
        "../scripts/taxonomy_similarity.py"


rule task_similarity:
    input:
        get_similarity_tables,
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
