"""Cross-checks a schema-valid config and expands the experiment grid.

The JSON schema checks each key on its own; these checks relate keys to each other
(a source names a registry task, a language is one the task has) and run when the DAG is
built, so a typo fails before any compute is spent.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xltransfer.data.tasks import TaskSpec, is_local_reference, load_registry
from xltransfer.errors import ConfigError
from xltransfer.kinds import TASK_TYPES, kind_for
from xltransfer.names import name_problem

BASELINE_SOURCE = "none"


def _check_name(key: str, name: str) -> None:
    if problem := name_problem(key, name):
        raise ConfigError(problem)


def _require_known(key: str, values: list[str], known: dict[str, Any], what: str) -> None:
    for value in values:
        if value not in known:
            raise ConfigError(
                f"{key}: unknown {what} {value!r}; defined {what}s are: {', '.join(sorted(known))}"
            )


# Methods that need a model and task data, which a published table does not come with.
TRAINING_ONLY_METHODS = ("textemb", "taskemb", "task2vec", "vocab_overlap")
# Methods whose vectors come from a model, one `task_embedding` job per (model, task).
EMBEDDED_METHODS = {"textemb", "taskemb", "task2vec"}


def check_published(config: dict[str, Any], sources: list[str], targets: list[str]) -> None:
    """Cross-checks of a published-results run: methods it can compute, facets they need."""
    methods = config["similarity"]["methods"]
    if not methods and not config["published"].get("similarity"):
        raise ConfigError(
            "similarity.methods: empty and no published.similarity table, so nothing is "
            "correlated with the gains; list [taxonomy] or [taxonomy, wu_palmer] (with "
            "published.taxonomy), or give published.similarity"
        )
    needs_data = [m for m in methods if m in TRAINING_ONLY_METHODS]
    if needs_data:
        raise ConfigError(
            f"similarity.methods: {needs_data} embed task data with a model, which a published "
            "table does not provide; list only taxonomy and wu_palmer here and give other "
            "similarities in published.similarity"
        )
    facets = config["published"]["taxonomy"]
    levels = config["similarity"]["taxonomy_tree"] if "wu_palmer" in methods else []
    for task in dict.fromkeys((*sources, *targets)) if methods else ():
        if task not in facets:
            raise ConfigError(
                f"published.taxonomy.{task}: no facets for a task of the table, which the "
                f"similarity methods {methods} need"
            )
        absent = [level for level in levels if level not in facets[task]]
        if absent:
            raise ConfigError(
                f"published.taxonomy.{task}: no {absent}, levels of similarity.taxonomy_tree "
                "that the method 'wu_palmer' needs"
            )
    sizes = config["published"]["source_sizes"]
    if sizes and (absent := sorted(set(sources) - set(sizes))):
        raise ConfigError(f"published.source_sizes: no size for source tasks {absent}")


def check_config(config: dict[str, Any]) -> None:
    """Raise ConfigError naming the first key whose value contradicts another part of the config."""
    registry = load_registry(config["tasks"])
    experiment = config["experiment"]
    for section in ("models", "tasks"):
        for name in config[section]:
            _check_name(f"{section}.{name}", name)
    if BASELINE_SOURCE in registry:
        raise ConfigError(
            f"tasks: {BASELINE_SOURCE!r} is reserved for the no-intermediate baseline"
        )
    _require_known("experiment.models", experiment["models"], config["models"], "model")
    _require_known("experiment.sources", experiment["sources"], registry, "task")
    _require_known("experiment.targets", experiment["targets"], registry, "task")
    for key in ("sources", "targets", "models", "seeds"):
        values = experiment[key]
        if len(set(values)) != len(values):
            raise ConfigError(f"experiment.{key}: duplicate entries in {values}")
    built = [model for model in experiment["models"] if "build" in config["models"][model]]
    if built and not config.get("demo_benchmark"):
        raise ConfigError(
            f"models.{built[0]}.build: a built model pretrains on the demo_benchmark corpus, and "
            "this config has no demo_benchmark section; add one, or give the model a `path`"
        )
    source_language = experiment["source_language"]
    for name in experiment["sources"] + experiment["targets"]:
        _check_architecture(f"tasks.{name}", registry[name])
    for name in experiment["sources"]:
        if not registry[name].kind.trainable:
            raise ConfigError(
                f"experiment.sources: {name!r} is a {registry[name].type} task, which trains "
                "nothing; it can only be a target"
            )
    similarity = config["similarity"]
    if embeds_fine_tuned_checkpoints(config):
        models, targets = taskemb_coverage(config, registry)
        if not models or not targets:
            raise ConfigError(
                "similarity.taskemb_model: 'fine_tuned' takes the Fisher at a fine-tuned task "
                f"head, and no {'model' if not models else 'target'} of this grid has one "
                "(retrieval and bi-encoder targets, text-to-text models); use the task2vec "
                "method (or taskemb_model task2vec)"
            )
    if similarity["taskemb_parameters"] and similarity["taskemb_estimator"] != "batch":
        raise ConfigError(
            "similarity.taskemb_parameters: parameter components need taskemb_estimator: batch "
            "(an example's own parameter gradient would take a backward pass per example)"
        )
    for role in ("sources", "targets"):
        for name in experiment[role]:
            _check_task(f"tasks.{name}", registry[name], source_language)
            _check_train_task(f"tasks.{name}", registry, name, source_language)
    for target, languages in (experiment.get("target_languages") or {}).items():
        _require_known("experiment.target_languages", [target], registry, "task")
        if target not in experiment["targets"]:
            raise ConfigError(
                f"experiment.target_languages.{target}: {target!r} is not one of "
                f"experiment.targets {experiment['targets']}; the languages would be ignored"
            )
        if not languages:
            raise ConfigError(
                f"experiment.target_languages.{target}: an empty list evaluates nothing; list "
                f"languages of the task {list(registry[target].languages)} or drop the key"
            )
        for language in languages:
            if language not in registry[target].languages:
                raise ConfigError(
                    f"experiment.target_languages.{target}: language {language!r} is not one of "
                    f"the task's languages {list(registry[target].languages)}"
                )
    _check_zero_shot_languages(experiment, registry)
    _check_windows(config, registry)
    _check_training_jobs(config, registry)
    methods = config["similarity"]["methods"]
    if not methods:
        raise ConfigError(
            "similarity.methods: empty; the analysis correlates at least one similarity with "
            "the gains (e.g. [taxonomy] or [taxonomy, textemb, taskemb])"
        )
    if embeds_fine_tuned_checkpoints(config):
        # A target without a head is left out of TaskEmb (taskemb_coverage); a source cannot
        # be: every target's sources are ranked together.
        for name in experiment["sources"]:
            if not registry[name].kind.has_fisher_head:
                raise ConfigError(
                    f"tasks.{name}.architecture: a {registry[name].architecture} checkpoint has "
                    "no task head for similarity.taskemb_model fine_tuned to take the Fisher at; "
                    "use task2vec (or head_input_probe)"
                )
    _check_text_to_text(config, registry)
    if "taxonomy" in methods:
        for name in experiment["sources"] + experiment["targets"]:
            if not registry[name].taxonomy:
                raise ConfigError(f"tasks.{name}.taxonomy: needed by similarity method 'taxonomy'")
    if "wu_palmer" in methods:
        levels = config["similarity"]["taxonomy_tree"]
        for name in experiment["sources"] + experiment["targets"]:
            absent = [level for level in levels if level not in registry[name].taxonomy]
            if absent:
                raise ConfigError(
                    f"tasks.{name}.taxonomy: no {absent}, levels of similarity.taxonomy_tree "
                    "that the method 'wu_palmer' needs"
                )


def _check_zero_shot_languages(experiment: dict[str, Any], registry: dict[str, TaskSpec]) -> None:
    """Every target is evaluated in at least one language besides the source language: the
    gains measured are zero-shot ones, and a target seen only in English has none."""
    source_language = experiment["source_language"]
    chosen = experiment.get("target_languages") or {}
    for target in experiment["targets"]:
        languages = chosen.get(target) or registry[target].languages
        if not [language for language in languages if language != source_language]:
            key = (
                f"experiment.target_languages.{target}"
                if target in chosen
                else f"tasks.{target}.languages"
            )
            raise ConfigError(
                f"{key}: {list(languages)} has no language besides the source language "
                f"{source_language!r}, so target {target!r} has no zero-shot score; add one"
            )


def stage_hyperparameters(
    config: dict[str, Any], stage: str, task: str, model: str
) -> dict[str, Any]:
    """One fine-tuning job's hyperparameters: the stage's (`training.source`/`target`), then the
    task's overrides (QA's window length), then the model's (a model family's learning-rate
    scale applies to every task it is trained on)."""
    return {
        **config["training"][stage],
        **(config["tasks"][task].get("hyperparameters") or {}),
        **(config["models"][model].get("hyperparameters") or {}),
    }


def _hyperparameter_key(config: dict[str, Any], stage: str, task: str, model: str, key: str) -> str:
    """The config key a job's value of `key` comes from, for error messages."""
    for section, name in (("models", model), ("tasks", task)):
        if key in (config[section][name].get("hyperparameters") or {}):
            return f"{section}.{name}.hyperparameters.{key}"
    return f"training.{stage}.{key}"


def _check_windows(config: dict[str, Any], registry: dict[str, TaskSpec]) -> None:
    """Extractive QA windows must overlap by less than half their length, or the tokenizer's
    overflow cannot advance through a context."""
    experiment = config["experiment"]
    for stage, tasks in (("source", experiment["sources"]), ("target", experiment["targets"])):
        for task, model in itertools.product(tasks, experiment["models"]):
            if not registry[task].kind.windowed:
                continue
            hp = stage_hyperparameters(config, stage, task, model)
            if hp["doc_stride"] >= hp["max_length"] // 2:
                where = _hyperparameter_key(config, stage, task, model, "doc_stride")
                raise ConfigError(
                    f"{where}: {hp['doc_stride']} must be below half of max_length "
                    f"{hp['max_length']} for extractive QA windows ({stage} {task}, {model})"
                )


def resolve_precision(requested: str, train_gpus: int, gpu_bf16: bool) -> str:
    """`auto` fixed from config alone, once for the whole grid: bf16 when the training jobs
    have GPUs that compute it natively, full precision (`no`) on CPU jobs and older GPUs."""
    if requested != "auto":
        return requested
    return "bf16" if train_gpus > 0 and gpu_bf16 else "no"


def job_hyperparameters(
    config: dict[str, Any], stage: str, task: str, model: str
) -> dict[str, Any]:
    """A fine-tuning job's hyperparameters as its run spec carries them: `stage_hyperparameters`
    with mixed_precision resolved here, never from the node a job lands on, so the `none`
    baseline and every source run of a model share one precision."""
    hp = stage_hyperparameters(config, stage, task, model)
    precision = resolve_precision(
        hp["mixed_precision"],
        config["resources"]["train"]["gpu"],
        config["training"]["gpu_bf16"],
    )
    return {**hp, "mixed_precision": precision}


def training_jobs(
    config: dict[str, Any], registry: dict[str, TaskSpec]
) -> list[tuple[str, str, str]]:
    """(stage, task, model) of every fine-tuning rule's hyperparameters: train_source per
    source, train_target per target that is trained (retrieval targets are not)."""
    experiment = config["experiment"]
    targets = [t for t in experiment["targets"] if registry[t].kind.trainable]
    return [
        (stage, task, model)
        for stage, tasks in (("source", experiment["sources"]), ("target", targets))
        for task in tasks
        for model in experiment["models"]
    ]


def _check_training_jobs(config: dict[str, Any], registry: dict[str, TaskSpec]) -> None:
    """Batch arithmetic and precision of every fine-tuning job, which the job itself would
    refuse only once it holds a GPU."""
    for stage, task, model in training_jobs(config, registry):
        _check_training_job(config, stage, task, model)


def _check_training_job(config: dict[str, Any], stage: str, task: str, model: str) -> None:
    """The global batch must split evenly into per-device batches over the rule's processes
    (one per GPU, as get_num_processes launches them), and the precision suit its devices."""
    hp = job_hyperparameters(config, stage, task, model)
    gpus = config["resources"]["train"]["gpu"]
    processes = max(1, gpus)
    job = f"rule train_{stage}: {task} on {model}"
    keys = {
        name: _hyperparameter_key(config, stage, task, model, name)
        for name in ("global_batch_size", "per_device_batch_size", "mixed_precision")
    }
    step = hp["per_device_batch_size"] * processes
    if hp["global_batch_size"] % step:
        lower = hp["global_batch_size"] // step * step
        examples = " or ".join(str(v) for v in (lower, lower + step) if v)
        raise ConfigError(
            f"{keys['global_batch_size']}: {hp['global_batch_size']} is not a multiple of "
            f"{keys['per_device_batch_size']} {hp['per_device_batch_size']} x {processes} "
            f"process(es) (resources.train.gpu: {gpus}) = {step} ({job}); use a multiple "
            f"of {step}, e.g. {examples}, or a per-device batch that divides it"
        )
    precision = hp["mixed_precision"]
    if precision == "fp16" and gpus == 0:
        raise ConfigError(
            f"{keys['mixed_precision']}: fp16 needs a GPU, but resources.train.gpu is 0 "
            f"({job}); use no or bf16"
        )
    if precision == "bf16" and gpus > 0 and not config["training"]["gpu_bf16"]:
        raise ConfigError(
            f"{keys['mixed_precision']}: bf16, but training.gpu_bf16 is false (the training "
            f"GPUs have no native bf16; {job}); use no or fp16, or set training.gpu_bf16: "
            "true if they have it"
        )


def check_paths(config: dict[str, Any], workdir: str | Path) -> None:
    """Files a trained grid reads before any job runs: the accelerate launch config and each
    local pretrained model folder (built models are made by the workflow, Hub ids fetched).
    Relative paths are taken from `workdir`, the workflow's working directory."""
    accelerate = Path(workdir, config["accelerate_config"]).expanduser()
    if not accelerate.is_file():
        raise ConfigError(
            f"accelerate_config: no file {config['accelerate_config']!r} ({accelerate}); every "
            "training job passes it to accelerate launch"
        )
    for model in config["experiment"]["models"]:
        entry = config["models"][model]
        if "build" in entry:
            continue
        _check_local_looking(f"models.{model}.path", entry["path"], workdir)
        if not is_local_reference(entry["path"]):
            continue
        folder = Path(workdir, entry["path"]).expanduser()
        where = f"models.{model}.path: {entry['path']!r} is a local folder (Hub ids: owner/name)"
        if not folder.is_dir():
            raise ConfigError(f"{where}, but {folder} does not exist")
        if not (folder / "config.json").is_file():
            raise ConfigError(
                f"{where}, but {folder} holds no config.json (save the model with save_pretrained)"
            )
    check_dataset_paths(config, workdir)


def _check_local_looking(key: str, reference: str, workdir: str | Path) -> None:
    """An `owner/name` reference whose owner is a local folder is a path that does not exist,
    not a Hub id: refused here, instead of a Hub lookup of a repository nobody has."""
    if reference.count("/") != 1 or reference.startswith((".", "/", "~")):
        return
    if Path(workdir, reference).exists():
        return
    owner = Path(workdir, reference.split("/")[0])
    if owner.is_dir():
        raise ConfigError(
            f"{key}: {reference!r} reads as a local path ({owner} is a folder here) but "
            f"{Path(workdir, reference)} does not exist; fix the path, or write a Hub id whose "
            "owner is not a local folder name"
        )


# The Hub-shaped folders the demo_benchmark rule writes (xltransfer.demo.build).
DEMO_REPOS = (
    "glue",
    "xnli",
    "stsb_multi_mt",
    "tweet_sentiment_multilingual",
    "ag_news",
    "wikiann",
    "conll2003",
    "squad",
    "xquad",
    "xtreme_tatoeba",
)


def check_dataset_paths(config: dict[str, Any], workdir: str | Path) -> None:
    """Each grid task's local dataset folder exists (Hub ids are checked when staged), or is
    one the demo_benchmark rule will write."""
    experiment = config["experiment"]
    built = ("resources/", "results/")  # made by the workflow's own rules
    demo = config.get("demo_benchmark")
    demo_root = Path(demo["output"]) if demo else None
    for name in dict.fromkeys(experiment["sources"] + experiment["targets"]):
        reference = config["tasks"][name]["dataset"]
        key = f"tasks.{name}.dataset"
        if demo_root and Path(reference).parent == demo_root:
            if Path(reference).name not in DEMO_REPOS:
                raise ConfigError(
                    f"{key}: {reference!r} is not a folder demo_benchmark writes under "
                    f"{demo['output']}; those are {', '.join(DEMO_REPOS)}"
                )
            continue
        if reference.startswith(built):
            continue
        _check_local_looking(key, reference, workdir)
        if is_local_reference(reference) and not Path(workdir, reference).expanduser().exists():
            raise ConfigError(f"{key}: local dataset {reference!r} does not exist under {workdir}")


def _check_architecture(key: str, task: TaskSpec) -> None:
    """The task's type can be fine-tuned with its architecture (a kind exists for both)."""
    if TASK_TYPES[task.type].kind_name(task.architecture) is None:
        takes = [name for name, t in TASK_TYPES.items() if t.kind_name(task.architecture)]
        raise ConfigError(
            f"{key}.architecture: {task.architecture} fine-tunes task types {takes} (it scores "
            f"sentence pairs by cosine), not {task.type!r}"
        )


def embeds_fine_tuned_checkpoints(config: dict[str, Any], method: str = "taskemb") -> bool:
    """True where `method` is in the grid and is Vu et al.'s TaskEmb, which reads each task's
    fine-tuned checkpoint (task2vec, head_input_probe and TextEmb read the pretrained encoder)."""
    similarity = config["similarity"]
    return (
        method == "taskemb"
        and method in similarity["methods"]
        and similarity["taskemb_model"] == "fine_tuned"
    )


def taskemb_coverage(
    config: dict[str, Any], registry: dict[str, TaskSpec] | None = None
) -> tuple[list[str], list[str]]:
    """The models and targets Vu et al.'s fine-tuned TaskEmb covers: those with a task head to
    take the Fisher at. A text-to-text model, a retrieval or a bi-encoder target has none, so
    its pairs have no TaskEmb similarity (the task2vec method covers every pair)."""
    registry = registry or load_registry(config["tasks"])
    experiment = config["experiment"]
    models = [m for m in experiment["models"] if not fine_tunes_text_to_text(config, m)]
    targets = [
        t
        for t in experiment["targets"]
        if registry[t].kind.trainable and registry[t].kind.has_fisher_head
    ]
    return models, targets


def embedded_coverage(config: dict[str, Any]) -> dict[str, tuple[list[str], list[str]]]:
    """Per embedded method of the config, the models and targets it embeds (with every
    source): all of them but for fine-tuned TaskEmb (`taskemb_coverage`)."""
    experiment = config["experiment"]
    coverage = {}
    for method in config["similarity"]["methods"]:
        if method not in EMBEDDED_METHODS:
            continue
        coverage[method] = (
            taskemb_coverage(config)
            if embeds_fine_tuned_checkpoints(config, method)
            else (list(experiment["models"]), list(experiment["targets"]))
        )
    return coverage


def fine_tunes_text_to_text(config: dict[str, Any], model: str) -> bool:
    """True for a model fine-tuned text to text (labels as words, answers generated)."""
    return config["models"][model].get("fine_tuning", "heads") == "text_to_text"


def _check_text_to_text(config: dict[str, Any], registry: dict[str, TaskSpec]) -> None:
    """A text-to-text model is an encoder-decoder, every task it trains has a text-to-text
    form whose verbaliser fits, and no TaskEmb is taken at a head it does not have."""
    experiment = config["experiment"]
    for model in experiment["models"]:
        if not fine_tunes_text_to_text(config, model):
            continue
        built = (config["models"][model].get("build") or {}).get("architecture")
        if built is not None and built != "mt5":
            raise ConfigError(
                f"models.{model}.fine_tuning: text_to_text needs an encoder-decoder, and "
                f"build.architecture is {built!r} (use mt5)"
            )
        for name in experiment["sources"] + experiment["targets"]:
            task = registry[name]
            if not task.kind.trainable:
                continue
            try:
                kind = kind_for(task.type, task.architecture, text_to_text=True)
            except ValueError as error:
                raise ConfigError(f"models.{model}.fine_tuning: {name}: {error}") from None
            for problem in kind.problems(task):
                raise ConfigError(f"tasks.{name}.{problem.key}: {problem.message}")


def _check_task(key: str, task: TaskSpec, source_language: str) -> None:
    kind = task.kind
    if task.metric not in kind.metrics:
        raise ConfigError(
            f"{key}.metric: {task.metric!r} does not fit task type {task.type!r}; "
            f"choose one of {list(kind.metrics)}"
        )
    for language in task.languages:
        _check_name(f"{key}.languages", language)
    if kind.trainable and source_language not in task.languages:
        raise ConfigError(
            f"{key}.languages: the source language {source_language!r} is missing; "
            "fine-tuning is done in it"
        )
    for problem in kind.problems(task):
        raise ConfigError(f"{key}.{problem.key}: {problem.message}")
    if not kind.trainable:
        return
    if task.language_rows is not None:
        unknown = sorted(set(task.language_rows.values) - set(task.languages))
        if unknown:
            raise ConfigError(
                f"{key}.language_rows.values: {unknown} are not among the task's languages"
            )
    elif task.config is None and not task.configs and len(task.languages) > 1:
        raise ConfigError(
            f"{key}.config: a multilingual task needs a config template with {{lang}}"
        )


def _check_train_task(
    key: str, registry: dict[str, TaskSpec], name: str, source_language: str
) -> None:
    """A task fine-tuned on another task's splits must share its type and labels; a task
    fine-tuned on its own must name its train and dev splits."""
    task = registry[name]
    if task.train_task is None:
        missing = [role for role in ("train", "dev") if role not in task.splits]
        if missing:
            raise ConfigError(
                f"{key}.splits: no {missing} split; name it, or set {key}.train_task to the "
                "task whose splits fine-tune this one"
            )
        return
    _require_known(f"{key}.train_task", [task.train_task], registry, "task")
    other = registry[task.train_task]
    if other.train_task is not None or other.name == name:
        raise ConfigError(
            f"{key}.train_task: {other.name!r} must be trained on its own splits "
            "(no chains of train_task)"
        )
    if (other.type, other.labels) != (task.type, task.labels):
        raise ConfigError(
            f"{key}.train_task: {other.name!r} is a {other.type} task with labels "
            f"{list(other.labels)}, but {name!r} is {task.type} with {list(task.labels)}; "
            "they must agree"
        )
    _check_train_task(f"tasks.{other.name}", registry, other.name, source_language)
    if source_language not in other.languages:
        raise ConfigError(
            f"{key}.train_task: {other.name!r} has no {source_language!r} data to fine-tune on"
        )


def fine_tuning_signature(
    config: dict[str, Any], registry: dict[str, TaskSpec], task: TaskSpec
) -> str:
    """Everything a target's English fine-tuning depends on: where its training data comes
    from, its head, labels, dev metric and every model's hyperparameters. The task's name and
    its zero-shot answer normalisation are left out: they only change how test sets are scored."""
    data = registry[task.train_task or task.name]
    english = config["experiment"]["source_language"]
    models = config["experiment"]["models"]
    return json.dumps(
        {
            "data": [
                data.dataset,
                data.revision,
                data.config_name(english),
                [data.split_name("train"), data.split_name("dev")],
                data.columns,
                repr(data.language_rows),
            ],
            "head": task.kind.name,
            "text_to_text": task.text_to_text,
            "labels": list(task.labels),
            "metric": task.metric,
            "hyperparameters": {
                m: job_hyperparameters(config, "target", task.name, m) for m in models
            },
        },
        sort_keys=True,
    )


def shared_fine_tunes(config: dict[str, Any], registry: dict[str, TaskSpec]) -> dict[str, str]:
    """Per trained target, the first target (in config order) with the same fine-tuning."""
    first: dict[str, str] = {}
    shared = {}
    for name in config["experiment"]["targets"]:
        if not registry[name].kind.trainable:
            continue
        signature = fine_tuning_signature(config, registry, registry[name])
        shared[name] = first.setdefault(signature, name)
    return shared


@dataclass(frozen=True)
class Grid:
    """The experiment grid: which models, tasks, seeds and language shards to run."""

    models: tuple[str, ...]
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    seeds: tuple[int, ...]
    source_language: str
    target_languages: dict[str, tuple[str, ...]]
    languages_per_job: int
    # Targets scored straight from an encoder (no train_target), with the split roles each of
    # their languages is read in: ("test",), or ("dev", "test") when mining needs a threshold.
    retrieval_roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Per task, the task whose English train and dev splits fine-tune it (itself by default).
    train_data: dict[str, str] = field(default_factory=dict)
    # Bi-encoder STS targets scored after projection alignment too: their evaluation also reads
    # the English test split, the translations the alignment is fit on.
    aligned_targets: tuple[str, ...] = ()
    # Per trained target, the target whose fine-tunes it is evaluated from: itself, or the first
    # target with an identical English fine-tuning (XQuAD and MLQA both train on SQuAD).
    fine_tunes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Grid:
        """Expand `experiment` against the task registry."""
        experiment = config["experiment"]
        registry = load_registry(config["tasks"])
        overrides = experiment.get("target_languages") or {}
        fine_tunes = shared_fine_tunes(config, registry)
        return cls(
            models=tuple(experiment["models"]),
            sources=tuple(experiment["sources"]),
            targets=tuple(experiment["targets"]),
            seeds=tuple(int(s) for s in experiment["seeds"]),
            source_language=experiment["source_language"],
            target_languages={
                t: tuple(overrides.get(t, registry[t].languages)) for t in experiment["targets"]
            },
            languages_per_job=int(experiment["languages_per_job"]),
            retrieval_roles={
                t: ("dev", "test") if registry[t].mines_pairs else ("test",)
                for t in experiment["targets"]
                if not registry[t].kind.trainable
            },
            train_data={
                name: registry[name].train_task or name
                for name in (*experiment["sources"], *experiment["targets"])
            }
            # A target sharing another's fine-tunes reads that one's (identical) English data.
            | {t: registry[s].train_task or s for t, s in fine_tunes.items()},
            aligned_targets=tuple(
                t
                for t in experiment["targets"]
                if registry[t].kind.aligns_embeddings
                and config["analysis"]["alignment"]["method"] != "none"
            ),
            fine_tunes=fine_tunes,
        )

    @property
    def fine_tuned_targets(self) -> tuple[str, ...]:
        """The trained targets that have fine-tunes of their own (train_target jobs)."""
        return tuple(t for t in self.trained_targets if self.fine_tunes.get(t, t) == t)

    @property
    def trained_targets(self) -> tuple[str, ...]:
        """Targets fine-tuned on their English data before evaluation."""
        return tuple(t for t in self.targets if t not in self.retrieval_roles)

    @property
    def retrieval_targets(self) -> tuple[str, ...]:
        return tuple(t for t in self.targets if t in self.retrieval_roles)

    @property
    def sources_with_baseline(self) -> tuple[str, ...]:
        return (BASELINE_SOURCE, *self.sources)

    def shards(self, target: str) -> list[tuple[str, ...]]:
        """Language groups of a target, one evaluation job each (0 = all languages in one job)."""
        languages = self.target_languages[target]
        size = self.languages_per_job or len(languages)
        return [languages[i : i + size] for i in range(0, len(languages), size)]

    @property
    def groups_target_runs(self) -> bool:
        """A target run is one SLURM job (its training and evaluation) where every trained
        target has one evaluation shard: Snakemake sums the resources of a group's parallel
        jobs, so several shards would ask for several times the GPUs."""
        return bool(self.trained_targets) and all(
            len(self.shards(t)) == 1 for t in self.trained_targets
        )

    def target_run_group(self, model: str, seed: str | int, source: str, target: str) -> str:
        """The group (SLURM job) of one target run, named by its cell so that `make status`
        finds it in squeue and in the SLURM logs; a target scored from another's fine-tunes
        joins that one's run."""
        return f"target_run_{model}_seed{seed}_{source}_{self.fine_tunes.get(target, target)}"

    def shard_languages(self, target: str, shard: int) -> tuple[str, ...]:
        shards = self.shards(target)
        if not 0 <= shard < len(shards):
            raise ConfigError(
                f"target {target!r} has {len(shards)} language shards, not {shard + 1}"
            )
        return shards[shard]

    def data_needs(self) -> list[tuple[str, str, str]]:
        """Every (task, language, split role) that some job reads."""
        needs = set()
        for task in self.sources + self.trained_targets:
            needs.add((self.train_data.get(task, task), self.source_language, "train"))
            needs.add((self.train_data.get(task, task), self.source_language, "dev"))
        for target in self.targets:
            roles = self.retrieval_roles.get(target, ("test",))
            needs.update(
                (target, language, role)
                for language in self.target_languages[target]
                for role in roles
            )
        needs.update((target, self.source_language, "test") for target in self.aligned_targets)
        return sorted(needs)

    def evaluation_splits(self) -> list[tuple[str, str, int]]:
        """Every (target, role, shard) whose per-language splits an evaluation shard reads,
        through one checksum list each."""
        return [
            (target, role, shard)
            for target in self.targets
            for role in self.retrieval_roles.get(target, ("test",))
            for shard in range(len(self.shards(target)))
        ]

    def job_counts(self) -> dict[str, int]:
        """Jobs per rule implied by the grid (the dry run must agree)."""
        runs = len(self.models) * len(self.seeds) * len(self.sources_with_baseline)
        return {
            "prepare_data": len(self.data_needs()),
            "split_checksums": len(self.evaluation_splits()),
            "train_source": len(self.models) * len(self.seeds) * len(self.sources),
            "train_target": runs * len(self.fine_tuned_targets),
            "evaluate": runs * sum(len(self.shards(t)) for t in self.trained_targets),
            # Every source checkpoint and the pretrained encoder (`none`), scored directly.
            "evaluate_retrieval": runs * sum(len(self.shards(t)) for t in self.retrieval_targets),
        }


# Run-level steps every run has, trained or published: one job each.
ANALYSIS_JOBS = ("task_similarity", "correlate", "rank_sources", "answer", "summary_page", "plots")


def published_job_counts(config: dict[str, Any]) -> dict[str, int]:
    """Jobs per rule of a published-results run from scratch."""
    counts = {
        "import_published": 1,
        "import_similarity": int("similarity" in config["published"]),
        **{f"{method}_similarity": 1 for method in config["similarity"]["methods"]},
        **dict.fromkeys(ANALYSIS_JOBS, 1),
        "all": 1,
    }
    counts = {rule: count for rule, count in counts.items() if count}
    counts["total"] = sum(counts.values())
    return counts


def _stage_job_counts(config, grid, registry) -> dict[str, int]:
    from xltransfer.data.staging import stage_requests

    requests = stage_requests(config, grid, registry)
    return {
        # One pin (its commit) and one stage (its files) per repository.
        "pin_model": len(requests["models"]),
        "pin_dataset": len(requests["datasets"]),
        "stage_model": len(requests["models"]),
        "stage_dataset": len(requests["datasets"]),
        "stage": int(any(requests.values())),
    }


def expected_job_counts(config: dict[str, Any]) -> dict[str, int]:
    """Jobs per rule of a whole run from scratch, as the dry run's job stats must show them."""
    if "published" in config:
        return published_job_counts(config)
    grid = Grid.from_config(config)
    registry = load_registry(config["tasks"])
    built = [model for model in grid.models if "build" in config["models"][model]]
    demo = config.get("demo_benchmark")
    demo_root = demo["output"].rstrip("/") + "/" if demo else None
    reads_demo = demo_root is not None and any(
        registry[task].dataset.startswith(demo_root) for task, _, _ in grid.data_needs()
    )
    counts = {
        **grid.job_counts(),
        "demo_benchmark": int(bool(built) or reads_demo),  # built models pretrain on its corpus
        "train_tokenizer": len(built),
        "pretrain": len(built),
        # One rule per similarity method, then one job each for the run-level steps.
        **{f"{method}_similarity": 1 for method in config["similarity"]["methods"]},
        # TextEmb and TaskEmb embed each (model, task) they cover in a job of its own.
        "task_embedding": sum(
            len(models) * len(set(grid.sources) | set(targets))
            for models, targets in embedded_coverage(config).values()
        ),
        **dict.fromkeys(ANALYSIS_JOBS, 1),
        "aggregate": 1,
        "gains": 1,
        # Choi et al.'s gap needs a target-only baseline in English: not for retrieval targets.
        "transfer_gap": int(bool(grid.trained_targets)),
        **_stage_job_counts(config, grid, registry),
        "all": 1,
    }
    counts = {rule: count for rule, count in counts.items() if count}
    counts["total"] = sum(counts.values())
    return counts
