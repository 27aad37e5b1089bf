# Fine-tuning runs through `accelerate launch`, one process per GPU of the job; the run spec
# (JSON, shell-quoted) is the only way hyperparameters reach the training code. The rule's
# name and GPUs let the job check, before anything loads, that it got the GPUs it asked for.
# Every value is shell-quoted (`:q`); `launch_mode` is the one unquoted word, and it is either
# empty or the workflow's own "--multi_gpu" (tests/test_shell_quoting.py holds to this).
FINETUNE = (
    "OMP_NUM_THREADS={threads:q} accelerate launch --config_file {params.accelerate_config:q}"
    " {params.launch_mode} --num_processes {params.processes:q} --main_process_port 0"
    " -m xltransfer.cli.finetune --spec {params.spec:q} --output {output.model:q}"
    " --rule {params.rule_name:q} --gpus {resources.gpu:q} > {log:q} 2>&1"
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
    params:
        rule_name="train_source",
        spec=get_source_spec,
        processes=get_num_processes,
        launch_mode=get_launch_mode,
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
        TARGET_RUN_GROUP
    conda:
        "../../envs/training.yaml"
    threads: get_resource("train", "threads")
    resources:
        mem_mb=get_resource("train", "mem_mb"),
        runtime=get_resource("train", "runtime"),
        gpu=get_resource("train", "gpu"),
    params:
        rule_name="train_target",
        spec=get_target_spec,
        processes=get_num_processes,
        launch_mode=get_launch_mode,
        accelerate_config=config["accelerate_config"],
    shell:
        FINETUNE
