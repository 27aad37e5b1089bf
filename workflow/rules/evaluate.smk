rule evaluate:
    input:
        unpack(get_evaluate_input),
    output:
        "results/{run}/scores/{model}/seed{seed}/{source}/{target}/shard{shard}.parquet",
    log:
        "logs/{run}/evaluate/{model}/seed{seed}/{source}/{target}/shard{shard}.log",
    conda:
        "../../envs/training.yaml"
    threads: get_resource("evaluate", "threads")
    resources:
        mem_mb=get_resource("evaluate", "mem_mb"),
        runtime=get_resource("evaluate", "runtime"),
        gpu=get_resource("evaluate", "gpu"),
    params:
        languages=get_shard_languages,
    script:
        "../scripts/evaluate.py"
