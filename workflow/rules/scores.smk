# From evaluation shards to gains: the part of the analysis that only a trained grid has.


rule aggregate:
    input:
        get_score_shards,
    output:
        "results/{run}/scores.parquet",
    log:
        "logs/{run}/aggregate.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    params:
        expected=get_expected_shards,
        allow_partial=config["analysis"]["allow_partial"],
    script:
        "../scripts/aggregate.py"


rule gains:
    input:
        rules.aggregate.output[0],
    output:
        "results/{run}/gains.parquet",
    log:
        "logs/{run}/gains.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    script:
        "../scripts/gains.py"


rule transfer_gap:
    input:
        rules.aggregate.output[0],
    output:
        plot=report(
            "results/{run}/plots/transfer_gap.png",
            caption="../report/transfer_gap.rst",
            category="Transfer gap per task",
        ),
        table="results/{run}/transfer_gap.parquet",
    log:
        "logs/{run}/transfer_gap.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    params:
        source_language=DESIGN.source_language,
    script:
        "../scripts/transfer_gap.py"
