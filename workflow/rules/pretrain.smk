rule train_tokenizer:
    input:
        benchmark=get_corpus_folder,
    output:
        directory("resources/tokenizers/{model}"),
    log:
        "logs/train_tokenizer/{model}.log",
    conda:
        "../../envs/training.yaml"
    threads: 1
    resources:
        mem_mb=get_resource("light", "mem_mb"),
        runtime=get_resource("light", "runtime"),
    params:
        build=get_build_spec,
        corpus=get_corpus_file,
    script:
        "../scripts/train_tokenizer.py"


rule pretrain:
    input:
        benchmark=get_corpus_folder,
        tokenizer=rules.train_tokenizer.output[0],
    output:
        directory("resources/models/{model}"),
    log:
        "logs/pretrain/{model}.log",
    conda:
        "../../envs/training.yaml"
    threads: get_resource("pretrain", "threads")
    resources:
        mem_mb=get_resource("pretrain", "mem_mb"),
        runtime=get_resource("pretrain", "runtime"),
        gpu=get_resource("pretrain", "gpu"),
    params:
        build=get_build_spec,
        corpus=get_corpus_file,
    script:
        "../scripts/pretrain.py"
