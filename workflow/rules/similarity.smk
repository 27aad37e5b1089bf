# One rule per similarity method; TextEmb and TaskEmb join them in a later release.


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
        weights=config["similarity"]["taxonomy_weights"],
        models=GRID.models,
        sources=GRID.sources,
        targets=GRID.targets,
    script:
        "../scripts/taxonomy_similarity.py"


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
