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


rule correlate:
    input:
        scores=rules.aggregate.output[0],
        similarity=rules.task_similarity.output[0],
    output:
        gains="results/{run}/gains.parquet",
        summary="results/{run}/gain_summary.parquet",
        correlations="results/{run}/correlations.parquet",
        headline="results/{run}/headline.txt",
    log:
        "logs/{run}/correlate.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    params:
        source_language=GRID.source_language,
    script:
        "../scripts/correlate.py"


rule plots:
    input:
        summary=rules.correlate.output.summary,
        correlations=rules.correlate.output.correlations,
        similarity=rules.task_similarity.output[0],
    output:
        heatmap=report(
            "results/{run}/plots/gain_heatmap.png",
            caption="../report/gain_heatmap.rst",
            category="Transfer gains",
        ),
        scatter=report(
            "results/{run}/plots/similarity_vs_gain.png",
            caption="../report/similarity_vs_gain.rst",
            category="Similarity vs gain",
        ),
    log:
        "logs/{run}/plots.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    script:
        "../scripts/plots.py"
