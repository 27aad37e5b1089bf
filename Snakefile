from snakemake.utils import min_version

min_version("9.14.1")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/similarity.smk"
include: "workflow/rules/analysis.smk"


rule all:
    default_target: True
    input:
        get_final_output(),
