rule demo_benchmark:
    output:
        directory(DEMO["output"] if DEMO else "resources/demo_hub"),
    log:
        "logs/demo_benchmark.log",
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    params:
        settings=DEMO_SETTINGS,
    script:
        "../scripts/demo_benchmark.py"


rule prepare_data:
    input:
        dataset=get_dataset_folder,
    output:
        "results/{run}/data/{task}/{lang}/{role}.parquet",
    log:
        "logs/{run}/prepare_data/{task}/{lang}/{role}.log",
    conda:
        "../../envs/training.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    params:
        task=get_split_entry,
        folder=get_staged_dataset,
    script:
        "../scripts/prepare_data.py"


# An evaluation shard reads a target's split of one role in each of its languages. It depends
# on this list of the splits' checksums instead of on every split: three quarters of
# xtreme.yaml's DAG edges were splits feeding evaluations. It also records which files the
# scores came from, and changes (rerunning the shard) when one of its splits is rebuilt.
rule split_checksums:
    input:
        get_language_splits,
    output:
        "results/{run}/data/{task}/{role}.shard{shard}.sha256",
    log:
        "logs/{run}/split_checksums/{task}/{role}.shard{shard}.log",
    localrule: True
    conda:
        "../../envs/coreutils.yaml"
    shell:
        "sha256sum {input:q} > {output:q} 2> {log:q}"
