from snakemake.utils import min_version

min_version("9.14.1")


# The embedded default only when no --configfile is given: Snakemake would otherwise merge
# the two, and demo values (e.g. the 1,000-example target subsample) would leak into a real run.
# An empty --configfile is refused (common.smk), not read as "no config".
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


if PUBLISHED:

    include: "workflow/rules/published.smk"

else:

    include: "workflow/rules/stage.smk"
    include: "workflow/rules/data.smk"
    include: "workflow/rules/pretrain.smk"
    include: "workflow/rules/train.smk"
    include: "workflow/rules/evaluate.smk"
    include: "workflow/rules/scores.smk"
    include: "workflow/rules/embeddings.smk"


include: "workflow/rules/similarity.smk"
include: "workflow/rules/analysis.smk"


rule all:
    default_target: True
    input:
        get_final_output(),
