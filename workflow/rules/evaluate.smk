rule evaluate:
    input:
        unpack(get_evaluate_input),
    output:
        "results/{run}/scores/{model}/seed{seed}/{source}/{target}/shard{shard}.parquet",
    log:
        "logs/{run}/evaluate/{model}/seed{seed}/{source}/{target}/shard{shard}.log",
    wildcard_constraints:
        target=TRAINED_TARGETS,
    group:
        get_target_run_group
    conda:
        "../../envs/training.yaml"
    threads: get_resource("evaluate", "threads")
    resources:
        mem_mb=get_resource("evaluate", "mem_mb"),
        runtime=get_resource("evaluate", "runtime"),
        gpu=get_resource("evaluate", "gpu"),
    params:
        languages=get_shard_languages,
        tests=get_shard_tests,
        alignment=get_sts_alignment,
        task=get_task_head,
    script:
        "../scripts/evaluate.py"


# Retrieval targets (Tatoeba, BUCC) have no target training: each source checkpoint's encoder,
# and the pretrained one for `none`, is scored directly, so gains compare encoders.
rule evaluate_retrieval:
    input:
        unpack(get_evaluate_retrieval_input),
    output:
        "results/{run}/scores/{model}/seed{seed}/{source}/{target}/shard{shard}.parquet",
    log:
        "logs/{run}/evaluate/{model}/seed{seed}/{source}/{target}/shard{shard}.log",
    wildcard_constraints:
        target=RETRIEVAL_TARGETS,
    conda:
        "../../envs/training.yaml"
    threads: get_resource("evaluate", "threads")
    resources:
        mem_mb=get_resource("evaluate", "mem_mb"),
        runtime=get_resource("evaluate", "runtime"),
        gpu=get_resource("evaluate", "gpu"),
    params:
        files=get_retrieval_files,
        settings=get_retrieval_settings,
        encoder=get_model_reference,
        revision=get_model_revision,
    script:
        "../scripts/evaluate_retrieval.py"
