# A published result table in place of training: its gains and any similarity it comes with.


rule import_published:
    input:
        PUBLISHED_TABLE,
    output:
        "results/{run}/gains.parquet",
    log:
        "logs/{run}/import_published.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    params:
        settings=config.get("published"),
    script:
        "../scripts/import_published.py"


rule import_similarity:
    input:
        PUBLISHED_SIMILARITY,
    output:
        "results/{run}/similarity/published.parquet",
    log:
        "logs/{run}/similarity/published.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    params:
        design=DESIGN,
        reserved=config["similarity"]["methods"],
    script:
        "../scripts/import_similarity.py"
