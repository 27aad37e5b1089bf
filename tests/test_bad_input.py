"""Bad input never runs and never hurts (issue 13).

A table of broken configs and published tables, each run through Snakemake in one shared
workflow copy that already holds an earlier run's results/demo/. Every case must be refused
when the DAG is built (exit status not 0), with a short message naming the key, or the file and
rows, and must leave results/ byte for byte as it was. A few controls must still be accepted,
so the suite cannot pass by refusing everything.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
RUN = "demo"  # every case's run, whose results/ folder exists before the case runs
MAX_MESSAGE_LINES = 15


@dataclass(frozen=True)
class Case:
    """One input: the files it writes under cases/<id>/ and what Snakemake must answer."""

    id: str
    files: Callable[[str], dict[str, str | bytes]]  # folder (cases/<id>) -> name: content
    phrases: tuple[str, ...] = ()  # each must appear in the output (refusals only)
    accepted: bool = False  # a control: the dry run must succeed
    configfiles: tuple[str, ...] = ("config.yaml",)  # given in this order; () for none
    dry_run: bool = True  # False: a real run, which must stop before any job
    # A shortcoming out of the workflow's reach (Snakemake reads each --configfile before the
    # Snakefile runs): the case must still be refused, results untouched; it is reported xfail.
    gap: str | None = None


def demo_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def _walk(config: dict, dotted: str) -> tuple[dict, str]:
    *parents, last = dotted.split(".")
    for key in parents:
        config = config.setdefault(key, {})
    return config, last


def config_case(id: str, change: Callable[[dict], object], *phrases: str, **options) -> Case:
    """The demo config changed by `change` (which edits it in place)."""

    def files(folder: str) -> dict[str, str]:
        config = demo_config()
        change(config)
        return {"config.yaml": yaml.safe_dump(config, sort_keys=False)}

    return Case(id, files, phrases, **options)


def setting(dotted: str, value: object) -> Callable[[dict], None]:
    def change(config: dict) -> None:
        parent, key = _walk(config, dotted)
        parent[key] = value

    return change


def dropping(dotted: str) -> Callable[[dict], None]:
    def change(config: dict) -> None:
        parent, key = _walk(config, dotted)
        del parent[key]

    return change


def both(*changes: Callable[[dict], object]) -> Callable[[dict], None]:
    def change(config: dict) -> None:
        for one in changes:
            one(config)

    return change


def renaming(section: str, old: str, new: str, *references: str) -> Callable[[dict], None]:
    """Rename a registry entry and the experiment lists that refer to it."""

    def change(config: dict) -> None:
        config[section] = {new if k == old else k: v for k, v in config[section].items()}
        for key in references:
            config["experiment"][key] = [new if v == old else v for v in config["experiment"][key]]

    return change


def demo_with(folder: str, dotted: str, value: object) -> str:
    """The demo config's text with one key set (for values that name the case folder)."""
    config = demo_config()
    setting(dotted, value)(config)
    return yaml.safe_dump(config, sort_keys=False)


def text_case(id: str, text: str | bytes, *phrases: str, **options) -> Case:
    return Case(id, lambda folder: {"config.yaml": text}, phrases, **options)


def demo_text() -> str:
    return yaml.safe_dump(demo_config(), sort_keys=False)


def duplicated_task_text() -> str:
    """The demo config with the task `xnli` defined twice under `tasks`, the second time with
    another metric (which "last wins" would silently take)."""
    lines = demo_text().splitlines(keepends=True)
    start = lines.index("  xnli:\n")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("    "))
    again = [line.replace("metric: accuracy", "metric: f1_macro") for line in lines[start:end]]
    return "".join(lines[:end] + again + lines[end:])


ANCHORED_TRAINING = """\
training:
  source: &stage {epochs: 3, learning_rate: 5.0e-4, max_length: 64}
  target:
    <<: *stage
    epochs: 4
    max_train_examples: 1000
"""


def anchors_text() -> str:
    """A valid config sharing stage settings through a YAML anchor and merge key."""
    config = demo_config()
    del config["training"]
    return yaml.safe_dump(config, sort_keys=False) + ANCHORED_TRAINING


# A published grid: sources a, b, c (and the baseline `none`), targets t and u, in en and de.
SCORES = [
    (source, target, language, 70 + 3 * i + 2 * j + k)
    for i, source in enumerate(("none", "a", "b", "c"))
    for j, target in enumerate(("t", "u"))
    for k, language in enumerate(("en", "de"))
]


def scores_csv(rows=SCORES, header: str = "source,target,language,score") -> str:
    return header + "\n" + "".join(",".join(map(str, row)) + "\n" for row in rows)


def similarity_csv() -> str:
    rows = [
        f"{source},{target},paper,{0.1 * i + 0.05 * j:.2f}\n"
        for i, source in enumerate(("a", "b", "c"))
        for j, target in enumerate(("t", "u"))
    ]
    return "source,target,method,value\n" + "".join(rows)


def published_config(folder: str, table: str = "table.csv") -> dict:
    return {
        "run": RUN,
        "published": {
            "table": f"{folder}/{table}",
            "values": "scores",
            "model": "xlmr-base",
            "source_language": "en",
            "similarity": f"{folder}/similarity.csv",
        },
        "similarity": {"methods": []},
    }


def published_case(
    id: str,
    table: str | bytes | None,
    *phrases: str,
    change: Callable[[dict], object] | None = None,
    name: str = "table.csv",
    similarity: str | None = None,
    **options,
) -> Case:
    """A published-results run reading `table` (None: no file written) from cases/<id>/."""

    def files(folder: str) -> dict[str, str | bytes]:
        config = published_config(folder, name)
        if change:
            change(config)
        written = {"config.yaml": yaml.safe_dump(config, sort_keys=False)}
        written["similarity.csv"] = similarity_csv() if similarity is None else similarity
        if table is not None:
            written[name] = table
        return written

    return Case(id, files, phrases, **options)


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


def no_zero_shot_task(config: dict) -> None:
    config["tasks"]["xnli"]["languages"] = ["en"]


# Config files Snakemake itself refuses before the Snakefile runs, with its own message (which
# names neither the file nor the line): what each says. `python -m xltransfer.config_files`
# names both (test_the_strict_reader_names_file_and_line).
SNAKEMAKE_REFUSES = [
    # id, text, Snakemake's phrase, the strict reader's phrase (after the file name)
    ("empty", "", "keys at top level", ": the config file is empty"),
    ("comments-only", "# nothing here\n", "keys at top level", ": the config file is empty"),
    ("invalid-yaml", "run: demo\nmodels: [x\n", "not valid JSON or YAML", ":3: not valid YAML"),
    ("tab-indentation", "run: a\nb:\n\tc: [x]\n", "not valid JSON or YAML", ":3: not valid YAML"),
    ("top-level-list", "- run: demo\n", "keys at top level", ": a config file holds a mapping"),
    ("not-utf8", b"run: d\xe9mo\n", "UnicodeDecodeError", ": not UTF-8 text (byte 0xe9"),
]
SNAKEMAKE_READS_IT = (
    "Snakemake parses --configfile before the Snakefile: its message names neither file nor line"
)

BAD_NAMES = {
    "newline": "demo\n",
    "space": "my run",
    "slash": "a/b",
    "dollar-paren": "$(touch PWNED)",
    "backtick": "`touch PWNED`",
}

CASES = [
    # --- controls: must be accepted ---------------------------------------------------------
    Case("control-demo-embedded", lambda folder: {}, accepted=True, configfiles=()),
    config_case("control-demo-configfile", lambda c: None, accepted=True),
    config_case(
        "control-names-dot-dash-underscore",
        both(
            setting("run", "run.v1-a_b"),
            renaming("models", "tiny-xlmr", "tiny.xlmr-v1_0", "models"),
            renaming("tasks", "sst2", "sst-2.v1_b", "sources"),
        ),
        accepted=True,
    ),
    text_case("control-yaml-anchors", anchors_text(), accepted=True),
    Case(
        "control-published",
        lambda folder: {
            "config.yaml": yaml.safe_dump(published_config(folder)),
            "table.csv": scores_csv(),
            "similarity.csv": similarity_csv(),
        },
        accepted=True,
    ),
    # --- the config files themselves -------------------------------------------------------
    text_case("config-file-empty-mapping", "{}\n", "config.yaml", "empty"),
    *(
        text_case(f"config-file-{id}", text, phrase, gap=SNAKEMAKE_READS_IT)
        for id, text, phrase, _ in SNAKEMAKE_REFUSES
    ),
    text_case(
        "config-file-task-defined-twice",
        duplicated_task_text(),
        "config.yaml",
        "'xnli' is given twice",
    ),
    text_case(
        "config-file-top-level-key-twice", demo_text() + "run: other\n", "'run' is given twice"
    ),
    text_case(
        "config-file-json-duplicate-key",
        json.dumps(demo_config())[:-1] + ', "run": "other"}',
        "'run' is given twice",
    ),
    Case(
        "config-file-second-of-two-empty",
        lambda folder: {"config.yaml": demo_text(), "second.yaml": "{}\n"},
        ("second.yaml", "empty"),
        configfiles=("config.yaml", "second.yaml"),
    ),
    config_case(
        "built-model-without-demo-benchmark",
        lambda c: c.pop("demo_benchmark"),
        "models.tiny-xlmr.build: a built model pretrains on the demo_benchmark corpus",
    ),
    # --- the schema: unknown keys, types, ranges -------------------------------------------
    config_case(
        "misspelt-top-level-key",
        lambda c: c.update(tranining=c.pop("training")),
        "'tranining'",
        "did you mean 'training'",
    ),
    config_case(
        "key-in-wrong-section",
        setting("experiment.learning_rate", 1e-4),
        "experiment.learning_rate",
        "unknown key",
    ),
    config_case(
        "published-with-models",
        setting("published", {"table": "x.csv", "values": "scores"}),
        "may not be given together",
    ),
    config_case("run-missing", dropping("run"), "'run' is a required property"),
    config_case("run-not-a-string", setting("run", 123), "run: 123"),
    config_case("experiment-missing", dropping("experiment"), "'experiment' is a required"),
    config_case("models-empty", setting("models", {}), "models:"),
    config_case(
        "model-path-and-build",
        setting("models.tiny-xlmr.path", "FacebookAI/xlm-roberta-base"),
        "models.tiny-xlmr",
    ),
    config_case(
        "model-neither-path-nor-build", setting("models.tiny-xlmr", {}), "models.tiny-xlmr"
    ),
    config_case("seeds-empty", setting("experiment.seeds", []), "experiment.seeds"),
    config_case("seed-negative", setting("experiment.seeds", [-1]), "experiment.seeds.0"),
    config_case("epochs-zero", setting("training.source.epochs", 0), "training.source.epochs"),
    config_case(
        "learning-rate-a-string",
        setting("training.source.learning_rate", "fast"),
        "training.source.learning_rate",
    ),
    config_case(
        "per-device-batch-zero",
        setting("training.source.per_device_batch_size", 0),
        "training.source.per_device_batch_size",
    ),
    config_case(
        "languages-per-job-negative",
        setting("experiment.languages_per_job", -1),
        "experiment.languages_per_job",
    ),
    config_case("gpus-negative", setting("resources.train.gpu", -1), "resources.train.gpu"),
    config_case("ranking-k-zero", setting("analysis.ranking_k", [0]), "analysis.ranking_k"),
    config_case(
        "similarity-method-unknown",
        setting("similarity.methods", ["taxonomy", "cosine"]),
        "similarity.methods.1",
        "'cosine'",
    ),
    config_case(
        "target-languages-not-a-list",
        setting("experiment.target_languages", {"xnli": "ov60"}),
        "experiment.target_languages.xnli",
    ),
    config_case(
        "task-type-unknown", setting("tasks.xnli.type", "classification"), "tasks.xnli.type"
    ),
    # --- names: checked whole, one rule everywhere ------------------------------------------
    *(
        config_case(f"run-name-{kind}", setting("run", name), "run:", "may only use")
        for kind, name in BAD_NAMES.items()
    ),
    config_case(
        "model-name-newline",
        renaming("models", "tiny-xlmr", "tiny-xlmr\n", "models"),
        "models",
        "may only use",
    ),
    config_case(
        "model-name-space",
        renaming("models", "tiny-xlmr", "tiny xlmr", "models"),
        "models",
        "may only use",
    ),
    config_case(
        "task-name-slash",
        renaming("tasks", "sst2", "glue/sst2", "sources"),
        "tasks",
        "may only use",
    ),
    config_case(
        "language-name-dollar-paren",
        setting("tasks.xnli.languages", ["en", "$(id)"]),
        "tasks.xnli.languages",
        "may only use",
    ),
    config_case(
        "language-name-newline",
        setting("tasks.xnli.languages", ["en", "ov60\n"]),
        "tasks.xnli.languages",
        "may only use",
    ),
    # --- cross-checks of a trained grid ------------------------------------------------------
    config_case(
        "experiment-unknown-model", setting("experiment.models", ["xlmr"]), "unknown model 'xlmr'"
    ),
    config_case(
        "experiment-unknown-source",
        setting("experiment.sources", ["mnli", "snli"]),
        "experiment.sources: unknown task 'snli'",
    ),
    config_case(
        "experiment-duplicate-source",
        setting("experiment.sources", ["mnli", "qqp", "mnli"]),
        "experiment.sources: duplicate",
    ),
    config_case(
        "task-named-none",
        renaming("tasks", "sst2", "none", "sources"),
        "'none' is reserved",
    ),
    config_case(
        "no-zero-shot-language-target-languages",
        setting("experiment.target_languages", {"xnli": ["en"]}),
        "experiment.target_languages.xnli",
        "no zero-shot score",
    ),
    config_case(
        "no-zero-shot-language-task", no_zero_shot_task, "tasks.xnli.languages", "no zero-shot"
    ),
    config_case(
        "target-languages-empty",
        setting("experiment.target_languages", {"xnli": []}),
        "experiment.target_languages.xnli",
        "empty list",
    ),
    config_case(
        "target-languages-not-a-target",
        setting("experiment.target_languages", {"mnli": ["en"]}),
        "experiment.target_languages.mnli",
        "not one of experiment.targets",
    ),
    config_case(
        "target-languages-unknown-language",
        setting("experiment.target_languages", {"xnli": ["ov60", "de"]}),
        "experiment.target_languages.xnli",
        "'de'",
    ),
    config_case(
        "source-language-missing-from-task",
        setting("experiment.source_language", "ov60"),
        "the source language 'ov60' is missing",
    ),
    config_case(
        "similarity-methods-empty", setting("similarity.methods", []), "similarity.methods"
    ),
    config_case(
        "taxonomy-facet-missing",
        dropping("tasks.mnli.taxonomy.family"),
        "tasks.mnli.taxonomy",
        "wu_palmer",
    ),
    config_case(
        "metric-does-not-fit-type", setting("tasks.xnli.metric", "pearson"), "tasks.xnli.metric"
    ),
    config_case(
        "train-task-unknown", setting("tasks.xquad.train_task", "squad2"), "tasks.xquad.train_task"
    ),
    config_case(
        "global-batch-not-multiple-of-per-device",
        both(
            setting("training.source.global_batch_size", 30),
            setting("training.source.per_device_batch_size", 8),
        ),
        "training.source.global_batch_size: 30 is not a multiple",
    ),
    config_case(
        "global-batch-not-multiple-over-gpus",
        both(
            setting("resources.train.gpu", 2),
            setting("training.source.per_device_batch_size", 16),
            setting("training.target.per_device_batch_size", 16),
            setting("training.target.global_batch_size", 48),
        ),
        "training.target.global_batch_size: 48 is not a multiple",
        "x 2 process",
    ),
    config_case(
        "global-batch-not-multiple-model-override",
        setting("models.tiny-xlmr.hyperparameters", {"global_batch_size": 20}),
        "models.tiny-xlmr.hyperparameters.global_batch_size",
    ),
    config_case(
        "fp16-without-gpu",
        setting("training.source.mixed_precision", "fp16"),
        "training.source.mixed_precision: fp16 needs a GPU",
    ),
    config_case(
        "qa-doc-stride-too-long",
        setting("training.source.doc_stride", 40),
        "training.source.doc_stride: 40",
    ),
    config_case(
        "accelerate-config-missing",
        setting("accelerate_config", "config/accelerate.yml"),
        "accelerate_config: no file",
    ),
    config_case(
        "accelerate-config-shell-text",
        setting("accelerate_config", "config/accelerate.yaml; touch PWNED"),
        "accelerate_config: no file",
        dry_run=False,
    ),
    config_case(
        "local-model-folder-missing",
        setting("models.tiny-xlmr", {"path": "./models/xlmr"}),
        "models.tiny-xlmr.path",
        "does not exist",
    ),
    Case(
        "local-model-folder-empty",
        lambda folder: {
            "model/README": "weights go here\n",
            "config.yaml": demo_with(folder, "models.tiny-xlmr", {"path": f"./{folder}/model"}),
        },
        ("models.tiny-xlmr.path", "no config.json"),
    ),
    config_case(
        "dataset-relative-path-missing",
        setting("tasks.xnli.dataset", "./data/xnli"),
        "tasks.xnli.dataset",
        "does not exist",
    ),
    config_case(
        "dataset-path-under-existing-folder",
        setting("tasks.xnli.dataset", "config/xnli"),
        "tasks.xnli.dataset",
        "reads as a local path",
    ),
    config_case(
        "dataset-demo-hub-typo",
        setting("tasks.xnli.dataset", "resources/demo_hub/xnl"),
        "tasks.xnli.dataset",
    ),
    config_case(
        "real-run-stops-before-any-job",
        setting("experiment.target_languages", {"xnli": ["en"]}),
        "experiment.target_languages.xnli",
        dry_run=False,
    ),
    # --- published tables ---------------------------------------------------------------------
    published_case("published-table-missing", None, "table.csv", "no such file"),
    published_case("published-table-empty", "", "table.csv", "empty"),
    published_case(
        "published-table-header-only", "source,target,language,score\n", "table.csv", "no rows"
    ),
    published_case(
        "published-table-wrong-suffix",
        scores_csv(),
        "table.txt",
        "expected a .csv",
        name="table.txt",
    ),
    published_case(
        "published-table-missing-column",
        scores_csv([r[:3] for r in SCORES], header="source,target,language"),
        "table.csv",
        "missing column(s) ['score']",
    ),
    published_case(
        "published-table-unknown-column",
        scores_csv([(*r, "x") for r in SCORES], header="source,target,language,score,paper"),
        "table.csv",
        "unknown column(s) ['paper']",
    ),
    published_case(
        "published-score-not-a-number",
        scores_csv([*SCORES[:-1], (*SCORES[-1][:3], "n/a")]),
        "table.csv",
        "'score'",
        f"rows {len(SCORES)}",
    ),
    published_case(
        "published-score-nan",
        scores_csv([*SCORES[:-1], (*SCORES[-1][:3], "nan")]),
        "table.csv",
        f"rows {len(SCORES)}",
    ),
    published_case(
        "published-score-empty-cell",
        scores_csv([(*SCORES[0][:3], ""), *SCORES[1:]]),
        "table.csv",
        "rows 1",
    ),
    published_case(
        "published-duplicate-rows",
        scores_csv([*SCORES, SCORES[5]]),
        "table.csv",
        "more than one value",
        f"rows 6, {len(SCORES) + 1}",
    ),
    published_case(
        "published-bad-name-in-row",
        scores_csv([*SCORES, ("x;touch PWNED", "t", "de", 70)]),
        "table.csv",
        "column 'source'",
        f"rows {len(SCORES) + 1}",
    ),
    published_case(
        "published-target-baseline-only",
        scores_csv([*SCORES, ("none", "v", "de", 60), ("none", "v", "en", 61)]),
        "table.csv",
        "only baseline rows",
        "/v",
    ),
    published_case(
        "published-one-source",
        scores_csv([r for r in SCORES if r[0] in ("none", "a")]),
        "table.csv",
        "fewer than 3 source tasks: t (xlmr-base): 1, u (xlmr-base): 1",
    ),
    published_case(
        "published-two-sources",
        scores_csv([r for r in SCORES if r[0] != "c"]),
        "table.csv",
        "fewer than 3 source tasks: t (xlmr-base): 2, u (xlmr-base): 2",
    ),
    published_case(
        # Three sources over the table, one for target u: counted per target.
        "published-one-source-for-a-target",
        scores_csv([r for r in SCORES if r[1] == "t" or r[0] in ("none", "a")]),
        "table.csv",
        "fewer than 3 source tasks: u (xlmr-base): 1;",
    ),
    published_case(
        "published-no-baseline-rows",
        scores_csv([r for r in SCORES if r[0] != "none"]),
        "table.csv",
        "no row has source 'none'",
    ),
    published_case(
        "published-gains-with-baseline-rows",
        scores_csv(SCORES, header="source,target,language,gain"),
        "table.csv",
        "published.values is 'gains'",
        change=setting("published.values", "gains"),
    ),
    published_case(
        "published-source-language-rows-only",
        scores_csv([*SCORES, *((s, "w", "en", i) for i, s in enumerate(("none", "a", "b", "c")))]),
        "table.csv",
        "only published.source_language 'en' rows",
    ),
    published_case(
        "published-values-misspelt",
        scores_csv(),
        "published.values",
        change=setting("published.values", "score"),
    ),
    published_case(
        "published-model-name-bad",
        scores_csv(),
        "published.model: 'xlmr base' may only use",
        change=setting("published.model", "xlmr base"),
    ),
    published_case(
        "published-trained-method",
        scores_csv(),
        "similarity.methods",
        change=setting("similarity.methods", ["textemb"]),
    ),
    published_case(
        "published-taxonomy-missing",
        scores_csv(),
        "published.taxonomy",
        change=setting("similarity.methods", ["taxonomy"]),
    ),
    published_case(
        "published-source-sizes-incomplete",
        scores_csv(),
        "published.source_sizes",
        change=setting("published.source_sizes", {"a": 10, "b": 20}),
    ),
    published_case(
        "published-nothing-to-correlate",
        scores_csv(),
        "similarity.methods",
        change=lambda c: c["published"].pop("similarity"),
    ),
    published_case(
        "published-parquet-corrupt",
        b"PAR1 this is not a parquet file",
        "table.parquet",
        name="table.parquet",
    ),
    published_case(
        "published-csv-not-utf8",
        scores_csv().encode() + b"b,t,de,7\xe90\n",
        "table.csv",
    ),
    published_case(
        "published-similarity-incomplete",
        scores_csv(),
        "similarity.csv",
        "no value for",
        similarity=similarity_csv().rsplit("\n", 2)[0] + "\n",
    ),
]


def copy_workflow(repo: Path, root: Path) -> Path:
    """The workflow's files of `repo` in `root`, whose results/ holds an earlier run."""
    for name in ("Snakefile", "workflow", "config", "envs"):
        source = repo / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    earlier = root / "results" / RUN
    (earlier / "plots").mkdir(parents=True)
    pd.DataFrame({"source": ["mnli"], "target": ["xnli"], "value": [0.5]}).to_parquet(
        earlier / "scores.parquet"
    )
    (earlier / "headline.txt").write_text("an earlier result\n")
    (earlier / "plots" / "gain_heatmap.png").write_bytes(bytes(range(256)))
    return root


def digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under `folder`, by relative path."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def run_case(root: Path, case: Case, env: dict[str, str] | None = None, always_dry: bool = False):
    """Write the case's files under root/cases/<id>/ and run Snakemake on them there (a dry
    run unless the case says otherwise and `always_dry` is false)."""
    folder = f"cases/{case.id}"
    for name, content in case.files(folder).items():
        path = root / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    command = [*SNAKEMAKE, "--cores", "1"] + (["-n"] if always_dry or case.dry_run else [])
    if case.configfiles:
        command += ["--configfile", *(f"{folder}/{name}" for name in case.configfiles)]
    result = subprocess.run(command, cwd=root, capture_output=True, env=env, timeout=120)
    output = (result.stdout + result.stderr).decode("utf-8", errors="replace")
    return result.returncode, output


def message_lines(output: str) -> list[str]:
    """The lines a user reads: non-blank, traceback frames left out."""
    return [line for line in output.splitlines() if line.strip() and 'File "' not in line]


@pytest.fixture(scope="module")
def workflow(tmp_path_factory) -> Path:
    return copy_workflow(REPO, tmp_path_factory.mktemp("bad-input"))


def test_the_demo_folders_a_dataset_may_name_are_those_the_demo_writes():
    from xltransfer.config import DEMO_REPOS

    source = (REPO / "src" / "xltransfer" / "demo" / "build.py").read_text()
    written = set(re.findall(r'tmp / "(\w+)"', source)) - {"corpus"}
    assert written == set(DEMO_REPOS)


def test_the_table_is_large_and_its_ids_unique():
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    assert sum(not case.accepted for case in CASES) >= 65
    assert sum(case.accepted for case in CASES) >= 3


@pytest.mark.workflow
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_input_is_refused_before_any_job(workflow, case):
    before = digest(workflow / "results")
    status, output = run_case(workflow, case)
    assert digest(workflow / "results") == before, "results/ changed"
    assert not (workflow / "PWNED").exists()
    if case.accepted:
        assert status == 0, output[-3000:]
        return
    assert status != 0, output[-3000:]
    for phrase in case.phrases:
        assert phrase in output, output[-3000:]
    if case.gap:
        pytest.xfail(case.gap)
    assert len(message_lines(output)) <= MAX_MESSAGE_LINES, output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        *(pytest.param(text, message, id=id) for id, text, _, message in SNAKEMAKE_REFUSES),
        pytest.param("run: a\nrun: b\n", ":2: key 'run' is given twice", id="key-twice"),
    ],
)
def test_the_strict_reader_names_file_and_line(tmp_path, capsys, text, message):
    """What `python -m xltransfer.config_files` says, where Snakemake names neither."""
    from xltransfer.config_files import main

    path = tmp_path / "config.yaml"
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    assert main([str(path)]) == 1
    error = capsys.readouterr().err
    assert f"{path}{message}" in error and len(error.splitlines()) == 1
