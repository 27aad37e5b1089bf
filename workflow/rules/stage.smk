# Hub models and datasets are staged once, on the login node, at a commit; every other job
# reads only staged files with the Hub switched off (see src/xltransfer/data/staging.py).
#
# Two steps per repository. `pin_*` writes the commit it is staged at (its lock's; a new one only
# on `make stage-update`); every job that reads the repository depends on that small file, so
# a new commit reruns exactly those jobs and an unchanged one (same checksum) none. `stage_*`
# fetches the files the grid reads at that commit and writes the receipt; jobs read the receipt
# as `ancient`, so fetching one more split or language reruns nothing that was done.
localrules:
    pin_model,
    pin_dataset,
    stage_model,
    stage_dataset,
    stage,


rule pin_model:
    output:
        "results/{run}/staged/models/{repo}.commit",
    log:
        "logs/{run}/stage/models/{repo}.pin.log",
    wildcard_constraints:
        repo=HUB_MODEL_REPOS,
    conda:
        "../../envs/training.yaml"
    params:
        repository=get_pinned_model,
        key=get_model_stage_key,
        cache=STAGING_CACHE,
    script:
        "../scripts/pin.py"


rule pin_dataset:
    output:
        "results/{run}/staged/datasets/{repo}.commit",
    log:
        "logs/{run}/stage/datasets/{repo}.pin.log",
    wildcard_constraints:
        repo=HUB_DATASET_REPOS,
    conda:
        "../../envs/training.yaml"
    params:
        repository=get_pinned_dataset,
        key=get_dataset_stage_key,
        cache=STAGING_CACHE,
    script:
        "../scripts/pin.py"


rule stage_model:
    input:
        commit=rules.pin_model.output[0],
    output:
        "results/{run}/staged/models/{repo}.json",
    log:
        "logs/{run}/stage/models/{repo}.log",
    wildcard_constraints:
        repo=HUB_MODEL_REPOS,
    conda:
        "../../envs/training.yaml"
    params:
        request=get_model_stage_request,
        cache=STAGING_CACHE,
    script:
        "../scripts/stage.py"


rule stage_dataset:
    input:
        commit=rules.pin_dataset.output[0],
    output:
        "results/{run}/staged/datasets/{repo}.json",
    log:
        "logs/{run}/stage/datasets/{repo}.log",
    wildcard_constraints:
        repo=HUB_DATASET_REPOS,
    conda:
        "../../envs/training.yaml"
    params:
        request=get_dataset_stage_request,
        cache=STAGING_CACHE,
    script:
        "../scripts/stage.py"


# Every repository of the run, with its commit and files: `snakemake stage` (or `make stage`)
# fetches everything before any GPU job is submitted.
rule stage:
    input:
        get_stage_receipts,
    output:
        f"results/{config['run']}/staged/manifest.json",
    log:
        f"logs/{config['run']}/stage/manifest.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/stage_manifest.py"
