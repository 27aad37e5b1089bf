# Fine-tuning runs one process per GPU (one on a CPU node): a single process in the job's own
# Python, several through `accelerate launch`, which the entry point starts itself
# (xltransfer.training.launch). The run spec (JSON) is the only way hyperparameters reach the training
# code. The rule's name and GPUs let the job check, before anything loads, that it got the GPUs
# it asked for. Every value is shell-quoted (`:q`; tests/test_shell_quoting.py holds to this).
FINETUNE = (
    "OMP_NUM_THREADS={threads:q} python -m xltransfer.cli.finetune"
    " --processes {params.processes:q} --accelerate-config {params.accelerate_config:q}"
    " --spec {params.spec:q} --output {output.model:q}"
    " --rule {params.rule_name:q} --gpus {resources.gpu:q} --threads {threads:q}"
    " --attempt {resources.attempt:q} > {log:q} 2>&1"
)


rule train_source:
    input:
        unpack(get_train_source_input),
    output:
        model=directory("results/{run}/models/{model}/seed{seed}/source/{source}"),
    log:
        "logs/{run}/train_source/{model}/seed{seed}/{source}.log",
    conda:
        "../../envs/training.yaml"
    threads: get_resource("train", "threads")
    resources:
        mem_mb=get_resource("train", "mem_mb"),
        runtime=get_resource("train", "runtime"),
        gpu=get_resource("train", "gpu"),
        # A retry (attempt 2) puts back a fine-tune its first attempt finished.
        attempt=get_attempt,
    params:
        rule_name="train_source",
        spec=get_source_spec,
        processes=get_num_processes,
        accelerate_config=config["accelerate_config"],
    shell:
        FINETUNE


rule train_target:
    input:
        unpack(get_train_target_input),
    output:
        model=target_checkpoint(
            "results/{run}/models/{model}/seed{seed}/target/{source}/{target}"
        ),
    log:
        "logs/{run}/train_target/{model}/seed{seed}/{source}/{target}.log",
    wildcard_constraints:
        target=FINE_TUNED_TARGETS,
    # One SLURM job per target run where it has one evaluation shard (common.smk).
    group:
        get_target_run_group
    conda:
        "../../envs/training.yaml"
    threads: get_resource("train", "threads")
    resources:
        mem_mb=get_resource("train", "mem_mb"),
        runtime=get_resource("train", "runtime"),
        gpu=get_resource("train", "gpu"),
        # A retry (attempt 2) puts back a fine-tune its first attempt finished.
        attempt=get_attempt,
    params:
        rule_name="train_target",
        spec=get_target_spec,
        processes=get_num_processes,
        accelerate_config=config["accelerate_config"],
    shell:
        FINETUNE
