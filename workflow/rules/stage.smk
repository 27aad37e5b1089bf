# Hub models and datasets are staged once, on the login node, at a commit; every other job
# reads only staged files with the Hub switched off (see src/xltransfer/data/staging.py).
localrules:
    stage_model,
    stage_dataset,
    stage,


rule stage_model:
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
