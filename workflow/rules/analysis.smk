rule correlate:
    input:
        gains="results/{run}/gains.parquet",
        similarity=rules.task_similarity.output[0],
    output:
        summary="results/{run}/gain_summary.parquet",
        correlations="results/{run}/correlations.parquet",
        mixed_effects="results/{run}/mixed_effects.parquet",
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
        source_language=DESIGN.source_language,
        # The pooling, interval and mixed-model variant ride with the resampling settings.
        inference=canonical(
            {
                **INFERENCE_SETTINGS,
                **{
                    key: config["analysis"][key]
                    for key in ("pooled", "interval", "mixed_model")
                },
            }
        ),
    script:
        "../scripts/correlate.py"


rule rank_sources:
    input:
        gains="results/{run}/gains.parquet",
        similarity=rules.task_similarity.output[0],
        train=get_source_train_files,
    output:
        "results/{run}/source_selection.parquet",
    log:
        "logs/{run}/rank_sources.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    params:
        sources=DESIGN.sources,
        max_train_examples=get_max_source_examples(),
        sizes=get_published_source_sizes(),
        facets=get_selection_facets,
        settings=SELECTION_SETTINGS,
    script:
        "../scripts/rank_sources.py"


rule answer:
    input:
        correlations=rules.correlate.output.correlations,
        selection=rules.rank_sources.output[0],
        mixed=rules.correlate.output.mixed_effects,
        # The grid's own variance shares, for the effect it can detect.
        gains="results/{run}/gains.parquet",
        similarity=rules.task_similarity.output[0],
    output:
        report(
            "results/{run}/answer.txt",
            caption="../report/answer.rst",
            category="Answer",
        ),
    log:
        "logs/{run}/answer.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    params:
        pooling=config["analysis"]["pooled"],
        source_language=DESIGN.source_language,
        primary_test=config["analysis"]["primary_test"],
        p_adjust=config["analysis"]["p_adjust"],
        families=get_source_families,
    script:
        "../scripts/answer.py"


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


rule summary_page:
    input:
        answer=rules.answer.output[0],
        correlations=rules.correlate.output.correlations,
        mixed_effects=rules.correlate.output.mixed_effects,
        selection=rules.rank_sources.output[0],
        gains=rules.correlate.output.summary,
        # Embedded beside the tables they summarise, so the page is one self-contained file.
        heatmap=rules.plots.output.heatmap,
        scatter=rules.plots.output.scatter,
        # Choi et al.'s transfer gap exists only where targets are fine-tuned (get_final_output).
        transfer_gap_plot=(
            rules.transfer_gap.output.plot
            if not PUBLISHED and GRID.trained_targets
            else []
        ),
        transfer_gap=(
            rules.transfer_gap.output.table
            if not PUBLISHED and GRID.trained_targets
            else []
        ),
    output:
        report(
            "results/{run}/summary.html",
            caption="../report/summary.rst",
            category="Answer",
        ),
    log:
        "logs/{run}/summary_page.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    script:
        "../scripts/summary_page.py"
