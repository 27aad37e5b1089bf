"""Task kinds: the registry, one conformance run per trainable kind, no kind branches outside
`xltransfer.kinds`, and no import cycles in the library."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from xltransfer.kinds import ARCHITECTURES, KINDS, TASK_TYPES, get_kind, kind_for
from xltransfer.kinds.base import PROBE_FORMS, TaskKind

SRC = Path(__file__).resolve().parents[1] / "src" / "xltransfer"
KIND_WORDS = set(KINDS) | set(TASK_TYPES) | set(ARCHITECTURES)


# -- the registry -------------------------------------------------------------------------------
def test_every_type_and_architecture_maps_onto_a_registered_kind():
    for name, task_type in TASK_TYPES.items():
        assert task_type.kind in KINDS, name
        for architecture in ARCHITECTURES:
            kind = task_type.kind_name(architecture)
            assert kind is None or kind in KINDS
    assert kind_for("pair_regression").name == "regression"
    assert kind_for("pair_regression", "bi_encoder").name == "bi_encoder"
    assert kind_for("token_classification").name == "token"


def test_unknown_names_are_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown task kind 'ner'; known: \['bi_encoder'"):
        get_kind("ner")
    with pytest.raises(ValueError, match=r"'extractive_qa' cannot be fine-tuned as 'bi_encoder'"):
        kind_for("extractive_qa", "bi_encoder")
    with pytest.raises(ValueError, match="unknown task type 'ner'"):
        kind_for("ner")


def test_the_registry_is_read_only_and_refuses_a_name_twice():
    from xltransfer.kinds import _by_name
    from xltransfer.kinds.classification import Classification

    with pytest.raises(TypeError):
        KINDS["classification"] = Classification()
    with pytest.raises(ValueError, match=r"registered twice: \['classification'\]"):
        _by_name(Classification(), Classification())


@pytest.mark.parametrize("name", sorted(KINDS))
def test_each_kind_declares_its_interface(name):
    kind = KINDS[name]
    assert isinstance(kind, TaskKind) and kind.name == name
    assert kind.metrics and len(set(kind.metrics)) == len(kind.metrics)
    assert kind.probe_form is None or kind.probe_form in PROBE_FORMS
    if kind.trainable:
        from xltransfer.models.factory import model_class

        assert model_class(kind).__name__ == kind.model_class_name


# -- one conformance run per trainable kind ------------------------------------------------------
def _frames() -> dict[str, pd.DataFrame]:
    """Two-row standard frames of each trainable kind (the dev split of a toy task)."""
    pairs = {"text_a": ["a red cat", "the dog runs far"], "text_b": ["a cat", "no dog"]}
    return {
        "classification": pd.DataFrame({**pairs, "label": [0, 1]}),
        "regression": pd.DataFrame({**pairs, "label": [0.5, 4.0]}),
        "bi_encoder": pd.DataFrame({**pairs, "label": [0.5, 4.0]}),
        "token": pd.DataFrame(
            {
                "text_a": [["a", "cat"], ["the", "dog", "runs"]],
                "text_b": None,
                "label": [[0, 1], [1, 0, 2]],
            }
        ),
        "qa": pd.DataFrame(
            {
                "text_a": ["who runs?", "what is red?"],
                "text_b": ["the dog runs far", "a red cat sits"],
                "label": [["the dog"], ["a red cat"]],
                "answer_start": [[0], [0]],
            }
        ),
        "multiple_choice": pd.DataFrame(
            {
                "text_a": ["the dog", "a cat"],
                "text_b": [None, None],
                "label": [1, 0],
                "choices": [["sits", "runs"], ["purrs", "barks"]],
            }
        ),
    }


LABELS = {
    "classification": ("no", "yes"),
    "token": ("O", "B-X", "I-X"),
    "multiple_choice": ("0", "1"),
}


@pytest.mark.parametrize("name", sorted(_frames()))
def test_each_trainable_kind_encodes_trains_one_step_and_scores(name, tiny_model_dir):
    """Encode, batch, build the head, take one optimiser step on the kind's own loss, then
    score the split: every kind lands in its own metric names."""
    from accelerate import Accelerator

    from xltransfer.models.factory import build_classifier, load_tokenizer
    from xltransfer.spec import TaskHead

    kind = KINDS[name]
    assert kind.trainable
    frame = _frames()[name]
    labels = LABELS.get(name, ())
    head = TaskHead(task="toy", head=name, labels=labels, metric=kind.metrics[0])
    tokenizer = load_tokenizer(str(tiny_model_dir))
    torch.manual_seed(0)
    model, carried = build_classifier(str(tiny_model_dir), None, head, None)
    assert not carried
    examples = kind.encode(frame, tokenizer, max_length=32, doc_stride=8)
    assert len(examples) >= len(frame)  # QA: one window per slice of a context at least
    batch = next(iter(kind.loader(examples, tokenizer, 2, shuffle=False, seed=0)))
    loss = model(**batch).loss
    assert torch.isfinite(loss)
    loss.backward()
    accelerator = Accelerator(cpu=True)
    eval_set = kind.eval_set(frame, tokenizer, accelerator, labels, 32, 2, doc_stride=8)
    scores = kind.score(accelerator.prepare(model), eval_set, accelerator)
    assert set(kind.metrics) <= set(scores) or name == "token"
    assert all(np.isnan(v) or -1.0 <= v <= 1.0 for v in scores.values())


# -- no branches on the kind outside xltransfer.kinds ----------------------------------------------
def kind_branches(source: str, where: str = "<source>") -> list[str]:
    """Places in Python source that compare a value with a kind's, a type's or an
    architecture's name, or that sniff a kind from a frame's columns."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            parts = [node.left, *node.comparators]
            constants = {
                sub.value
                for part in parts
                for sub in ast.walk(part)
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str)
            }
            names = {
                sub.attr if isinstance(sub, ast.Attribute) else sub.id
                for part in parts
                for sub in ast.walk(part)
                if isinstance(sub, ast.Attribute | ast.Name)
            }
            if constants & KIND_WORDS or names & {"CHOICES", "ANSWER_START"}:
                found.append(f"{where}:{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if len(keys & set(KINDS)) > 1:  # a dispatch table (one such key may be a column)
                found.append(f"{where}:{node.lineno}: a mapping keyed by kind names")
        elif isinstance(node, ast.Attribute) and node.attr in ("is_retrieval", "fine_tuning_head"):
            found.append(f"{where}:{node.lineno}: .{node.attr}")
    return found


def test_the_branch_finder_finds_branches():
    planted = """
if task.head == "qa":
    pass
if kind.name in ("token", "multiple_choice"):
    pass
classes = {"classification": 1, "token": 2}
if CHOICES in frame:
    pass
x = task.is_retrieval
"""
    assert len(kind_branches(planted)) == 5
    assert kind_branches("if form == 'softmax' and method != 'taskemb':\n    pass\n") == []


def test_no_code_outside_the_kinds_branches_on_a_kind():
    kinds_package = SRC / "kinds"
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if kinds_package in path.parents:
            continue
        found += kind_branches(path.read_text(), str(path.relative_to(SRC)))
    assert found == [], "ask the task's kind instead:\n" + "\n".join(found)


# -- no import cycles ------------------------------------------------------------------------
def _imports() -> dict[str, set[str]]:
    """Each library module's xltransfer imports (function-level ones too, annotations-only
    `if TYPE_CHECKING:` blocks left out)."""
    modules = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        annotations_only = {
            id(sub)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for sub in ast.walk(node)
        }
        targets = set()
        for node in ast.walk(tree):
            if id(node) in annotations_only:
                continue
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("xltransfer"):
                targets |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [node, nxt] if nxt in path else [node, nxt]
            if nxt not in state and (found := visit(nxt, [*path, node])):
                return found
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [])):
            return found
    return None


def test_no_module_imports_itself_through_others():
    assert _cycle(_imports()) is None, " -> ".join(_cycle(_imports()))


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) is not None
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_packages_depend_one_way():
    """Read as the pipeline: kinds and data below models, training, evaluation, similarity."""
    packages: dict[str, set[str]] = {}
    for module, imported in _imports().items():
        for other in imported:
            a, b = ".".join(module.split(".")[:2]), ".".join(other.split(".")[:2])
            if a != b:
                packages.setdefault(a, set()).add(b)
    assert _cycle(packages) is None, " -> ".join(_cycle(packages))
    # The kinds are the bottom layer: they import nothing else of the library.
    assert "xltransfer.kinds" not in packages, packages.get("xltransfer.kinds")


# -- evaluation reads the longest examples first -------------------------------------------------
def test_examples_are_read_longest_first_and_put_back_in_order():
    from xltransfer.kinds.base import in_example_order, longest_first
    from xltransfer.kinds.encoding_cache import example_length

    examples = [
        {"input_ids": [1, 2]},
        {"input_ids": [1, 2, 3, 4]},
        {"input_ids": [[1], [1, 2, 3]]},  # multiple choice: its longest choice
        {"input_ids": [1], "input_ids_b": [1, 2, 3, 4, 5]},  # bi-encoder: both sentences
        {"input_ids": [5, 6]},
    ]
    assert [example_length(e) for e in examples] == [2, 4, 3, 6, 2]
    order = longest_first(examples)
    assert order == [3, 1, 2, 0, 4]  # ties keep their order
    assert in_example_order([f"row{i}" for i in order], order) == [f"row{i}" for i in range(5)]


def test_windows_read_longest_first_score_as_in_example_order(tiny_model_dir):
    """Extractive QA maps each window back to its example: sorting the windows for speed must
    not change a single answer."""
    from accelerate import Accelerator

    from xltransfer.kinds.base import EvalSet
    from xltransfer.models.factory import build_classifier, load_tokenizer
    from xltransfer.spec import TaskHead

    kind = KINDS["qa"]
    frame = pd.DataFrame(
        {
            "text_a": ["who runs?", "what is red?", "who sits?"],
            "text_b": [
                "the dog runs far and the cat sits still by the old red barn",
                "a red cat sits",
                "the cat sits on the mat while the dog runs",
            ],
            "label": [["the dog"], ["a red cat"], ["the cat"]],
            "answer_start": [[0], [0], [0]],
        }
    )
    tokenizer = load_tokenizer(str(tiny_model_dir))
    torch.manual_seed(0)
    model, _ = build_classifier(str(tiny_model_dir), None, TaskHead("t", "qa", (), "f1"), None)
    accelerator = Accelerator(cpu=True)
    model = accelerator.prepare(model)
    sorted_set = kind.eval_set(frame, tokenizer, accelerator, (), 24, 2, doc_stride=6)
    assert sorted_set.order != sorted(sorted_set.order)  # the windows were reordered
    examples = [sorted_set.windows.features(w) for w in range(len(sorted_set.windows.example))]
    in_order = kind.loader(examples, tokenizer, 2, shuffle=False, seed=0)
    plain = EvalSet(
        accelerator.prepare(in_order),
        kind,
        (),
        sorted_set.windows,
        sorted_set.contexts,
        sorted_set.answers,
    )
    assert kind.score(model, sorted_set, accelerator) == kind.score(model, plain, accelerator)


def test_evaluation_halves_its_batch_until_it_fits(tiny_model_dir, caplog):
    """A model that runs out of memory on batches above 4 rows is scored at 4, with the scores
    of a run at 4 from the start (32 -> 16 -> 8 -> 4)."""
    from accelerate import Accelerator
    from test_train import HP

    from xltransfer.evaluation.zero_shot import SplitToScore, score_largest_batch
    from xltransfer.models.factory import build_classifier, load_tokenizer
    from xltransfer.spec import TaskHead

    labels = LABELS["classification"]
    head = TaskHead("toy", "classification", labels, "accuracy")
    torch.manual_seed(0)
    model, _ = build_classifier(str(tiny_model_dir), None, head, None)

    class SmallMemory(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, **batch):
            if batch["input_ids"].shape[0] > 4:
                raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return self.inner(**batch)

    frame = pd.concat([_frames()["classification"]] * 5, ignore_index=True)  # 10 rows
    tokenizer = load_tokenizer(str(tiny_model_dir))
    accelerator = Accelerator(cpu=True)
    split = SplitToScore(frame, labels, HP, None)
    kind = KINDS["classification"]
    small = SmallMemory(model)
    scores, fitted = score_largest_batch(kind, small, tokenizer, accelerator, split, 32)
    assert fitted == 4
    assert "batch size 8 -> 4" in caplog.text
    direct, _ = score_largest_batch(kind, model, tokenizer, accelerator, split, 4)
    assert scores == direct
