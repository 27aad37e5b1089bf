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
        settings=DEMO,
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
        task=get_task_entry,
        folder=get_staged_dataset,
    script:
        "../scripts/prepare_data.py"
