import os
import re
import sys
from pathlib import Path

from xltransfer.config import (
    BASELINE_SOURCE,
    Grid,
    check_config,
    check_paths,
    check_published,
    embedded_coverage,
    embeds_fine_tuned_checkpoints,
    fine_tunes_text_to_text,
    job_hyperparameters,
    stage_hyperparameters,
)
from xltransfer.config_files import check_config_files
from xltransfer.config_schema import validate_config
from xltransfer.analysis.published import check_taxonomy, load_similarity, read_design
from xltransfer.spec import finetune_spec, task_head
from xltransfer.data.staging import (
    STAGE_UPDATE,
    check_staged,
    check_update,
    check_writable,
    stage_requests,
    staged_folder,
)
from xltransfer.data.card_checks import check_staged_cards
from xltransfer.data.tasks import load_registry
from xltransfer.identity import canonical, split_entry, taskemb_fisher_options
from xltransfer.integrity import heal_and_list
from xltransfer.planning.redo import (
    RETRAIN,
    TRAINING_RULES,
    PlannedJob,
    finished_redone,
    refusal,
)
from xltransfer.run_lock import check_free, claim, release

# Each --configfile strictly (duplicate keys, empty file), then the merged config against the
# schema, which also fills in its defaults: a bad key fails here with one line naming it.
check_config_files(workflow.overwrite_configfiles or [])
validate_config(
    config, os.path.join(workflow.current_basedir, "../schemas/config.schema.yaml")
)

# A run trains its own grid, or analyses a published table (`published:`). DESIGN is what the
# analysis iterates over in both: models, sources, targets and the fine-tuning language.
PUBLISHED = config.get("published")
if PUBLISHED:
    # Read now, so a malformed table fails the dry run, naming file and lines. Without a
    # language axis DESIGN.source_language is None: the analysis keeps every row.
    DESIGN = read_design(PUBLISHED)
    # Every missing taxonomy facet in one message, before check_published names the first.
    check_taxonomy(config, DESIGN.sources, DESIGN.targets)
    check_published(config, DESIGN.sources, DESIGN.targets)
    PUBLISHED_TABLE = PUBLISHED["table"]
    PUBLISHED_SIMILARITY = PUBLISHED.get("similarity", [])
    # A value for every (model, source, target) of the results, checked against them now.
    if PUBLISHED_SIMILARITY:
        load_similarity(PUBLISHED_SIMILARITY, DESIGN, config["similarity"]["methods"])
    TASKS = {}
    EMBEDDED_COVERAGE = {}  # a published table embeds nothing (check_published)
else:
    check_config(config)
    # Relative paths in the config are the working directory's, as the jobs will read them.
    check_paths(config, os.getcwd())
    GRID = DESIGN = Grid.from_config(config)
    TASKS = load_registry(config["tasks"])
    # Per embedding method, the models and targets it embeds (fine-tuned TaskEmb: those with
    # a task head), worked out once.
    EMBEDDED_COVERAGE = embedded_coverage(config)
DEMO = config.get("demo_benchmark")
# The benchmark's settings in one key order (its languages keep theirs: it generates them in
# that order), so that moving a key regenerates nothing.
DEMO_SETTINGS = DEMO and {
    **canonical({k: v for k, v in DEMO.items() if k != "languages"}),
    "languages": DEMO["languages"],
}
# Jobs never reach the Hub: they read what the stage rules fetched (the stage script alone
# switches it back on). Set here, so local jobs and SLURM jobs (which parse this file again)
# inherit it.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"


# Passed on to remote jobs by executors that do not inherit the environment.
envvars:
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",


STAGING_CACHE = config["staging"]["cache"]


def receipt_path(kind, repo):
    """A staged repository's receipt in this run: its commit and files (rules stage_*)."""
    return f"results/{config['run']}/staged/{kind}/{repo}.json"


# Per kind ("models", "datasets") and Hub id, what the stage rules fetch for this grid.
STAGE = (
    {"models": {}, "datasets": {}} if PUBLISHED else stage_requests(config, GRID, TASKS)
)
if any(STAGE.values()):
    check_writable(STAGING_CACHE)  # before the DAG's first job, not in the stage job
    check_update(
        os.environ.get(STAGE_UPDATE, ""), {r for repos in STAGE.values() for r in repos}
    )
    # What staged dataset cards already say (configs, ClassLabel names) against the grid.
    check_staged_cards(sorted(GRID.data_needs()), TASKS, STAGING_CACHE)
    # A purged or damaged cache stops the run here, not a queued GPU job; `make stage` (whose
    # target is `stage`) fetches the files again. Snakemake reads this file before it knows its
    # targets, so the command line says whether this is that run.
    if workflow.is_main_process and "stage" not in sys.argv[1:]:
        check_staged(
            {
                request.key: receipt_path(kind, repo)
                for kind, requests in STAGE.items()
                for repo, request in requests.items()
            }
        )
# One run per folder: a second one started while the first lives is refused in one line
# (xltransfer.run_lock), before Snakemake reports the first run's files as incomplete.
# A Parquet output the workflow built that is no longer whole (cut short, emptied) is moved
# aside now; every file moved aside and not rebuilt yet (here, by `make verify` or by the job
# that could not read it) is a target of this run, since Snakemake does not rebuild a missing
# intermediate file whose consumers are done.
REBUILD = []
if workflow.is_main_process:
    check_free(Path.cwd(), sys.argv[1:])
    _healed, _lost = heal_and_list(Path("results") / config["run"])
    for _path, _why, _where in _healed:
        print(
            f"xltransfer: {_path}: {_why}; {_where}, and this run rebuilds it",
            file=sys.stderr,
        )
    REBUILD = [str(path) for path in _lost]
# What the analysis jobs read from config, named once for their rules' params.
INFERENCE_SETTINGS = canonical(
    {
        key: config["analysis"][key]
        for key in (
            "bootstrap_resamples",
            "permutation_resamples",
            "confidence",
            "p_adjust",
            "seed",
        )
    }
)
SELECTION_SETTINGS = canonical(
    {
        "source_language": DESIGN.source_language,
        "ks": config["analysis"]["ranking_k"],
        "ranking": config["analysis"]["ranking"],
    }
)


def _alternatives(names):
    # Exact names only: no wildcard value can be ambiguous or smuggle shell text.
    return "|".join(
        re.escape(str(name)) for name in sorted(names, key=len, reverse=True)
    )


wildcard_constraints:
    run=re.escape(config["run"]),
    model=_alternatives(DESIGN.models),
    task=_alternatives(TASKS),
    source=_alternatives((*DESIGN.sources, BASELINE_SOURCE)),
    target=_alternatives(DESIGN.targets),
    lang=_alternatives({lang for task in TASKS.values() for lang in task.languages}),
    role="train|dev|test",
    seed=r"\d+",
    shard=r"\d+",


HUB_MODEL_REPOS = _alternatives(STAGE["models"]) or "(?!)"
HUB_DATASET_REPOS = _alternatives(STAGE["datasets"]) or "(?!)"


def _receipt(kind, repo):
    # Staged inputs are ancient: restaging (a grid that reads one more split) rewrites the
    # receipt without changing what earlier jobs read, so it must not make them rerun.
    return ancient(receipt_path(kind, repo))


def _commit(kind, repo):
    # The commit a repository is staged at: a new one reruns the jobs that read it.
    return f"results/{config['run']}/staged/{kind}/{repo}.commit"


def _pinned(request):
    # What decides a repository's commit: not the splits it is asked for, nor the config key
    # that names it (which only messages show: get_*_stage_key).
    return canonical(
        {key: request.to_json()[key] for key in ("repo_id", "repo_type", "revision")}
    )


def get_pinned_model(wildcards):
    return _pinned(STAGE["models"][wildcards.repo])


def get_pinned_dataset(wildcards):
    return _pinned(STAGE["datasets"][wildcards.repo])


# Derived from `input` in Snakemake's terms, so not compared with the last run: the key only
# names the repository in messages, and renaming a task must not move its commit.
def get_model_stage_key(wildcards, input):
    return STAGE["models"][wildcards.repo].key


def get_dataset_stage_key(wildcards, input):
    return STAGE["datasets"][wildcards.repo].key


def get_model_stage_request(wildcards):
    return STAGE["models"][wildcards.repo].to_json()


def get_dataset_stage_request(wildcards):
    return STAGE["datasets"][wildcards.repo].to_json()


def get_stage_receipts(wildcards):
    """Every Hub repository's receipt: the manifest is rewritten whenever one is."""
    return [receipt_path(kind, repo) for kind, repos in STAGE.items() for repo in repos]


def get_final_output():
    """The analysis tables and plots of this run (scores and transfer gaps when it trains)."""
    trained = ["results/{run}/scores.parquet"]
    if any(STAGE.values()):
        trained.append(rules.stage.output[0])
    # The transfer gap needs a target-only baseline's English score: fine-tuned targets only.
    if not PUBLISHED and GRID.trained_targets:
        trained.append("results/{run}/plots/transfer_gap.png")
    return REBUILD + expand(
        [
            *([] if PUBLISHED else trained),
            "results/{run}/gains.parquet",
            "results/{run}/correlations.parquet",
            "results/{run}/source_selection.parquet",
            "results/{run}/mixed_effects.parquet",
            "results/{run}/headline.txt",
            "results/{run}/answer.txt",
            "results/{run}/summary.html",
            "results/{run}/plots/gain_heatmap.png",
            "results/{run}/plots/similarity_vs_gain.png",
        ],
        run=config["run"],
    )


def _demo_output_for(path):
    # Files inside a directory() output cannot be inputs themselves: depend on the whole folder.
    if DEMO and os.path.normpath(path).startswith(
        os.path.normpath(DEMO["output"]) + os.sep
    ):
        return DEMO["output"]
    return path


def get_dataset_folder(wildcards):
    """The local dataset folder a prepare_data job reads, or a Hub dataset's staging receipt."""
    task = TASKS[wildcards.task]
    if task.is_local:
        return [_demo_output_for(task.dataset)]
    return [_receipt("datasets", task.dataset), _commit("datasets", task.dataset)]


def get_staged_dataset(wildcards):
    """Where a Hub dataset's staged files are (None: the task's own local folder)."""
    task = TASKS[wildcards.task]
    return (
        None
        if task.is_local
        else str(staged_folder(STAGING_CACHE, "dataset", task.dataset))
    )


def get_split_entry(wildcards):
    """What decides one prepared split: its task's dataset, columns and labels at that language,
    config and split only, so that growing the task elsewhere leaves the split standing.
    """
    entry = config["tasks"][wildcards.task]
    return split_entry(entry, wildcards.lang, wildcards.role)


def get_corpus_folder(wildcards):
    """The generated benchmark, whose corpus/ pretrains the built models."""
    if not DEMO:
        raise ValueError(
            f"models.{wildcards.model}.build needs the demo_benchmark section (its corpus)"
        )
    return DEMO["output"]


def get_corpus_file(wildcards):
    return f"{DEMO['output']}/corpus/corpus.parquet"


def get_build_spec(wildcards):
    return canonical(config["models"][wildcards.model]["build"])


def model_reference(model):
    """Where a model's pretrained weights live: built here, staged from the Hub, or a local
    folder."""
    entry = config["models"][model]
    if "build" in entry:
        return f"resources/models/{model}"
    if entry["path"] in STAGE["models"]:
        return str(staged_folder(STAGING_CACHE, "model", entry["path"]))
    return entry["path"]


def _model_receipt(model):
    repo = config["models"][model].get("path")
    return _receipt("models", repo) if repo in STAGE["models"] else None


def get_model_receipt(wildcards):
    """A Hub model's staging receipt (its commit and files), nothing for other models."""
    return _model_receipt(wildcards.model) or []


def get_model_commit(wildcards):
    """The commit file of a Hub model (a new commit reruns the job), nothing for others."""
    repo = config["models"][wildcards.model].get("path")
    return _commit("models", repo) if repo in STAGE["models"] else []


def get_pretrained(wildcards):
    """The pretrained model folder as an input, when the workflow builds it."""
    entry = config["models"][wildcards.model]
    return [model_reference(wildcards.model)] if "build" in entry else []


def _split_file(task, role, lang=None):
    # Training reads the train_task's English splits where one is set (XQuAD: SQuAD's).
    if role != "test":
        task = GRID.train_data[task]
    lang = lang or GRID.source_language
    return f"results/{config['run']}/data/{task}/{lang}/{role}.parquet"


def _split_checksums(task, role, shard):
    return f"results/{config['run']}/data/{task}/{role}.shard{shard}.sha256"


def get_language_splits(wildcards):
    """A target's split of one role in each language of one evaluation shard: what the
    shard's checksum list covers, so a language added to another shard leaves it standing.
    """
    return [
        _split_file(wildcards.task, wildcards.role, lang)
        for lang in GRID.shard_languages(wildcards.task, int(wildcards.shard))
    ]


def target_checkpoint(path):
    """A target checkpoint is read once per evaluation shard: temporary unless kept."""
    folder = directory(path)
    return folder if config["keep"]["target_checkpoints"] else temp(folder)


def get_train_source_input(wildcards):
    return {
        "pretrained": get_pretrained(wildcards),
        "staged": get_model_receipt(wildcards),
        "commit": get_model_commit(wildcards),
        "train": _split_file(wildcards.source, "train"),
        "dev": _split_file(wildcards.source, "dev"),
    }


def get_train_target_input(wildcards):
    inputs = {
        "pretrained": get_pretrained(wildcards),
        "staged": get_model_receipt(wildcards),
        "commit": get_model_commit(wildcards),
        "train": _split_file(wildcards.target, "train"),
        "dev": _split_file(wildcards.target, "dev"),
    }
    if wildcards.source != BASELINE_SOURCE:
        inputs["source"] = rules.train_source.output.model.format(**wildcards)
    return inputs


def _finetune_spec(wildcards, inputs, task, stage):
    # Built from the wildcards, never from the rule's `input`: Snakemake leaves a param
    # derived from input out of its params check, so a new learning rate would not retrain.
    return finetune_spec(
        model=wildcards.model,
        init_model=model_reference(wildcards.model),
        revision=config["models"][wildcards.model].get("revision"),
        staged=str(inputs["staged"]) if inputs["staged"] else None,
        init_checkpoint=inputs.get("source"),
        task=TASKS[task],
        train_file=inputs["train"],
        dev_file=inputs["dev"],
        seed=int(wildcards.seed),
        # Precision resolved here, from config, so every job of a model runs the same one.
        hyperparameters=job_hyperparameters(config, stage, task, wildcards.model),
        text_to_text=fine_tunes_text_to_text(config, wildcards.model),
    ).to_json()


def get_source_spec(wildcards):
    return _finetune_spec(
        wildcards, get_train_source_input(wildcards), wildcards.source, "source"
    )


def get_target_spec(wildcards):
    return _finetune_spec(
        wildcards, get_train_target_input(wildcards), wildcards.target, "target"
    )


def get_num_processes(wildcards, resources):
    """One training process per GPU; one process on a CPU-only node."""
    return max(1, int(resources.gpu))


def get_source_train_files(wildcards):
    """The English training split of every source task, in GRID.sources order (none when the
    results are published: their sizes come from published.source_sizes)."""
    return (
        [] if PUBLISHED else [_split_file(source, "train") for source in GRID.sources]
    )


def get_max_source_examples():
    return None if PUBLISHED else config["training"]["source"]["max_train_examples"]


def get_published_source_sizes():
    return PUBLISHED["source_sizes"] if PUBLISHED else {}


def get_similarity_tables(wildcards):
    """Every similarity method's table: the configured methods and any published one."""
    methods = list(config["similarity"]["methods"])
    if PUBLISHED and PUBLISHED.get("similarity"):
        methods.append("published")
    return [
        f"results/{wildcards.run}/similarity/{method}.parquet" for method in methods
    ]


def embedding_tasks():
    """Every source and target task once, sources first."""
    return list(dict.fromkeys((*GRID.sources, *GRID.targets)))


def _embedding_file(task):
    # A retrieval target has no English training split: its first language's pairs stand in.
    if task in GRID.retrieval_roles:
        return _split_file(task, "test", GRID.target_languages[task][0])
    return _split_file(task, "train")


def get_embedding_train_files(wildcards):
    return [_embedding_file(task) for task in embedding_tasks()]


def _fine_tuned(model, task):
    # The first seed's checkpoint of the task: its source run, else its target-only baseline.
    values = {"run": config["run"], "model": model, "seed": GRID.seeds[0]}
    if task in GRID.sources:
        return rules.train_source.output.model.format(**values, source=task)
    return rules.train_target.output.model.format(
        **values, source=BASELINE_SOURCE, target=GRID.fine_tunes[task]
    )


def _embedder(method, model, task):
    """What embeds one task: the pretrained encoder, or for fine_tuned TaskEmb its checkpoint."""
    if embeds_fine_tuned_checkpoints(config, method):
        return _fine_tuned(model, task)
    return model_reference(model)


def embedding_heads():
    """Each embedded task's kind by name (`xltransfer.kinds`)."""
    return {task: TASKS[task].kind.name for task in embedding_tasks()}


def get_embedding_settings(wildcards):
    """What decides a task's vectors under one method (EMBEDDING_SETTINGS, embeddings.smk)."""
    return EMBEDDING_SETTINGS[wildcards.method]


def get_task_embedder(wildcards):
    return _embedder(wildcards.method, wildcards.model, wildcards.task)


def get_task_kind_name(wildcards):
    return TASKS[wildcards.task].kind.name


def get_task_embedding_input(wildcards):
    embedder = get_task_embedder(wildcards)
    # Hub ids are not files: only folders the workflow writes are inputs.
    local = (
        embeds_fine_tuned_checkpoints(config, wildcards.method)
        or "build" in config["models"][wildcards.model]
    )
    return {
        "model": [embedder] if local else [],
        "staged": get_model_receipt(wildcards),
        "commit": get_model_commit(wildcards),
        "train": _embedding_file(wildcards.task),
    }


def get_task_vectors(method):
    """Every (model, task) vectors file of a method, tasks in embedding_tasks() order: the
    models and targets it covers (fine-tuned TaskEmb needs a task head) with every source.
    """

    def vectors(wildcards):
        models, targets = EMBEDDED_COVERAGE[method]
        return [
            f"results/{wildcards.run}/embeddings/{method}/{model}/{task}.parquet"
            for model in models
            for task in embedding_tasks()
            if task in GRID.sources or task in targets
        ]

    return vectors


def get_shard_languages(wildcards):
    return list(GRID.shard_languages(wildcards.target, int(wildcards.shard)))


def get_evaluate_input(wildcards):
    inputs = {
        "model": rules.train_target.output.model.format(
            **{**wildcards, "target": GRID.fine_tunes[wildcards.target]}
        ),
        # One checksum list stands for every language's test split (split_checksums).
        "tests": _split_checksums(wildcards.target, "test", wildcards.shard),
    }
    if wildcards.target in GRID.aligned_targets:
        inputs["english_test"] = _split_file(wildcards.target, "test")
    return inputs


def get_shard_tests(wildcards):
    """The test split of each language of an evaluation shard."""
    return [
        _split_file(wildcards.target, "test", lang)
        for lang in get_shard_languages(wildcards)
    ]


def get_sts_alignment(wildcards):
    """Projection alignment of a bi-encoder STS target's sentence embeddings (None: none)."""
    if wildcards.target not in GRID.aligned_targets:
        return None
    return canonical(
        {**config["analysis"]["alignment"], "seed": config["analysis"]["seed"]}
    )


# The targets of the two evaluation steps (fine-tuned ones; retrieval from an encoder).
# An empty constraint would leave the wildcard unconstrained: "(?!)" matches nothing.
TRAINED_TARGETS = "(?!)" if PUBLISHED else _alternatives(GRID.trained_targets) or "(?!)"
FINE_TUNED_TARGETS = (
    "(?!)" if PUBLISHED else _alternatives(GRID.fine_tuned_targets) or "(?!)"
)
if not PUBLISHED:
    for _target, _shared in GRID.fine_tunes.items():
        if _target != _shared:
            # Shown on every dry run: the fine-tunes that are not done twice.
            print(
                f"train_target: {_target} is scored from {_shared}'s fine-tunes (identical "
                f"English fine-tuning), {len(GRID.models) * len(GRID.seeds) * len(GRID.sources_with_baseline)} "
                "fewer jobs",
                file=sys.stderr,
            )


# A target run is one SLURM job (train_target and its evaluation shard, `group:`) when every
# trained target has one shard (languages_per_job 0, the default); the group is named by the
# cell, so that `make status` finds a running or failed target run (Grid.target_run_group).
TARGET_RUN_GROUP = not PUBLISHED and GRID.groups_target_runs


def get_target_run_group(wildcards):
    if not TARGET_RUN_GROUP:
        return None
    return GRID.target_run_group(
        wildcards.model, wildcards.seed, wildcards.source, wildcards.target
    )


def get_task_head(wildcards):
    """The target a shared checkpoint is scored as (its metric and answer normalisation)."""
    text_to_text = fine_tunes_text_to_text(config, wildcards.model)
    return task_head(TASKS[wildcards.target], text_to_text).as_dict()


RETRIEVAL_TARGETS = (
    "(?!)" if PUBLISHED else _alternatives(GRID.retrieval_targets) or "(?!)"
)


def get_retrieval_files(wildcards):
    """Per language of the shard, the standardised split of each role a retrieval target reads."""
    roles = GRID.retrieval_roles[wildcards.target]
    return {
        lang: {role: _split_file(wildcards.target, role, lang) for role in roles}
        for lang in get_shard_languages(wildcards)
    }


def get_evaluate_retrieval_input(wildcards):
    """The encoder (a source checkpoint, or the pretrained model for `none`) and the splits."""
    inputs = {
        "splits": [
            _split_checksums(wildcards.target, role, wildcards.shard)
            for role in GRID.retrieval_roles[wildcards.target]
        ]
    }
    if wildcards.source == BASELINE_SOURCE:
        inputs["pretrained"] = get_pretrained(wildcards)
        inputs["staged"] = get_model_receipt(wildcards)
        inputs["commit"] = get_model_commit(wildcards)
    else:
        inputs["source"] = rules.train_source.output.model.format(**wildcards)
    return inputs


def get_retrieval_settings(wildcards):
    """Embedding, mining and alignment settings of one retrieval evaluation."""
    task = TASKS[wildcards.target]
    hp = stage_hyperparameters(config, "target", wildcards.target, wildcards.model)
    return canonical(
        {
            "layer": task.retrieval.layer,
            "margin_k": task.retrieval.margin_k,
            "mine": task.mines_pairs,
            "metric": task.metric,
            "alignment": config["analysis"]["alignment"],
            "seed": config["analysis"]["seed"],
            "max_length": hp["max_length"],
            "batch_size": hp["eval_batch_size"],
        }
    )


def get_model_revision(wildcards):
    return config["models"][wildcards.model].get("revision")


def get_model_reference(wildcards):
    return model_reference(wildcards.model)


def score_shards(run):
    """Every evaluation shard file of the grid."""
    return [
        f"results/{run}/scores/{model}/seed{seed}/{source}/{target}/shard{shard}.parquet"
        for model in GRID.models
        for seed in GRID.seeds
        for source in GRID.sources_with_baseline
        for target in GRID.targets
        for shard in range(len(GRID.shards(target)))
    ]


def get_score_shards(wildcards):
    """All shards; with analysis.allow_partial only those already on disk."""
    shards = score_shards(wildcards.run)
    if config["analysis"]["allow_partial"]:
        return [path for path in shards if os.path.exists(path)]
    return shards


def get_expected_shards(wildcards):
    return score_shards(wildcards.run)


def get_taxonomy_facets(wildcards):
    tasks = dict.fromkeys((*DESIGN.sources, *DESIGN.targets))
    if PUBLISHED:
        return canonical({name: PUBLISHED["taxonomy"][name] for name in tasks})
    return canonical({name: TASKS[name].taxonomy for name in tasks})


def get_selection_facets(wildcards):
    """Taxonomy facets for the in-class split of source selection; none (only the all-sources
    rows) where a published table gives no facets for some task."""
    tasks = (*DESIGN.sources, *DESIGN.targets)
    if PUBLISHED and not all(name in PUBLISHED["taxonomy"] for name in tasks):
        return {}
    return get_taxonomy_facets(wildcards)


def get_attempt(wildcards, attempt):
    """Which attempt of a job this is (Snakemake gives it to resources only)."""
    return attempt


def get_resource(family, key):
    """A rule family's resource from config; runtime and memory grow with each retry."""
    value = config["resources"][family][key]
    if key in ("runtime", "mem_mb"):
        return lambda wildcards, attempt: value * attempt
    return value


def planned_training():
    """The training jobs this run is about to do (Snakemake's DAG, read at `onstart`), less
    those forced on the command line (`--forcerun` says they are meant)."""
    dag = workflow.dag
    return [
        PlannedJob(
            job.rule.name, dict(job.wildcards_dict), str(job.output[0]), str(reason)
        )
        for job in dag.needrun_jobs()
        if job.rule.name in TRAINING_RULES and not (reason := dag.reason(job)).forced
    ]


onstart:
    # A change that would train finished fine-tunes again is refused before any job starts,
    # naming each with its reason, unless XLTRANSFER_RETRAIN=1 says it is meant.
    _redone = finished_redone(planned_training(), Path.cwd(), config["run"])
    if _redone and not os.environ.get(RETRAIN):
        print(f"xltransfer: {refusal(_redone)}", file=sys.stderr)
        raise SystemExit(1)
    claim(Path.cwd(), sys.argv[1:])


onsuccess:
    release(Path.cwd())


onerror:
    release(Path.cwd())


def get_source_families(wildcards):
    """Each source's taxonomy family, for the answer's check of family structure; none where
    a published table gives no facets for some task."""
    facets = get_selection_facets(wildcards)
    return canonical(
        {
            name: facets[name]["family"]
            for name in DESIGN.sources
            if "family" in facets.get(name, {})
        }
    )
