"""One module per task kind, behind one interface (`base.TaskKind`), looked up by name.

`KINDS` maps each kind's name (the `head` a run spec records) to its instance; `TASK_TYPES` maps
a config's task `type` and `architecture` onto a kind. Adding a kind is one module, one line in
`KINDS` and, for a new config type, one line in `TASK_TYPES`. Nothing registers itself on
import; code outside this package asks a task's kind and never compares kind names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

from xltransfer.kinds.base import TaskKind
from xltransfer.kinds.bi_encoder import BiEncoderSTS
from xltransfer.kinds.classification import Classification
from xltransfer.kinds.extractive_qa import ExtractiveQA
from xltransfer.kinds.multiple_choice import MultipleChoice
from xltransfer.kinds.regression import Regression
from xltransfer.kinds.retrieval import Retrieval
from xltransfer.kinds.tagging import Tagging
from xltransfer.kinds.text_to_text import TextToText


def _by_name(*kinds: TaskKind) -> MappingProxyType:
    names = [kind.name for kind in kinds]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"task kinds registered twice: {duplicates}")
    return MappingProxyType({kind.name: kind for kind in kinds})


KINDS = _by_name(
    Classification(),
    Regression(),
    Tagging(),
    ExtractiveQA(),
    MultipleChoice(),
    BiEncoderSTS(),
    Retrieval(),
    TextToText(Classification(), "label"),
    TextToText(Regression(), "number"),
    TextToText(ExtractiveQA(), "answer"),
    TextToText(MultipleChoice(), "choice"),
    TextToText(Tagging(), "tags"),
)
# The text-to-text form of each trainable kind (mT5 fine-tuned as Xue et al. 2021 do). A
# bi-encoder STS task is written as text like a cross-encoder's: one input holds both sentences.
TEXT_TO_TEXT = MappingProxyType(
    {kind.base.name: kind.name for kind in KINDS.values() if isinstance(kind, TextToText)}
    | {"bi_encoder": "text_to_text_regression"}
)

# How a pair regression (STS) is fine-tuned: both sentences in one input, or each on its own.
ARCHITECTURES = ("cross_encoder", "bi_encoder")


@dataclass(frozen=True)
class TaskType:
    """A config `type`: whether it reads sentence pairs, and its kind per architecture."""

    pair: bool
    kind: str
    architectures: dict[str, str] = field(default_factory=dict)

    def kind_name(self, architecture: str) -> str | None:
        """The kind fine-tuned with an architecture (None: the type does not take it)."""
        if architecture == ARCHITECTURES[0]:
            return self.kind
        return self.architectures.get(architecture)


TASK_TYPES: MappingProxyType = MappingProxyType(
    {
        "pair_classification": TaskType(pair=True, kind="classification"),
        "single_classification": TaskType(pair=False, kind="classification"),
        "pair_regression": TaskType(
            pair=True, kind="regression", architectures={"bi_encoder": "bi_encoder"}
        ),
        "single_regression": TaskType(pair=False, kind="regression"),
        # NER/POS: text_a holds a sentence's words, label one tag id per word.
        "token_classification": TaskType(pair=False, kind="token"),
        # SQuAD-style: text_a the question, text_b the context, label the answers field.
        "extractive_qa": TaskType(pair=True, kind="qa"),
        # HellaSwag/CosmosQA/CommonsenseQA: text_a the context, optional text_b the question,
        # choices the candidate answers, label the gold choice named in `labels` order.
        "multiple_choice": TaskType(pair=False, kind="multiple_choice"),
        # Bitext retrieval (Tatoeba, BUCC): text_a a foreign sentence, text_b its English
        # translation; scored from a frozen encoder's sentence embeddings, never trained.
        "retrieval": TaskType(pair=True, kind="retrieval"),
    }
)


def get_kind(name: str) -> TaskKind:
    """The kind registered under a name (a run spec's `head`)."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown task kind {name!r}; known: {sorted(KINDS)}") from None


def kind_for(
    task_type: str, architecture: str = ARCHITECTURES[0], text_to_text: bool = False
) -> TaskKind:
    """The kind of a config task `type` fine-tuned with `architecture`; with `text_to_text`,
    its text-to-text form (for a model fine-tuned that way)."""
    if task_type not in TASK_TYPES:
        raise ValueError(f"unknown task type {task_type!r}; known: {sorted(TASK_TYPES)}")
    name = TASK_TYPES[task_type].kind_name(architecture)
    if name is None:
        takes = [a for a in ARCHITECTURES if TASK_TYPES[task_type].kind_name(a)]
        raise ValueError(
            f"task type {task_type!r} cannot be fine-tuned as {architecture!r} (it takes {takes})"
        )
    if text_to_text:
        if name not in TEXT_TO_TEXT:
            raise ValueError(
                f"task type {task_type!r} has no text-to-text form; those are the types of "
                f"kinds {sorted(TEXT_TO_TEXT)}"
            )
        name = TEXT_TO_TEXT[name]
    return KINDS[name]


def checkpoint_kind(model) -> TaskKind:
    """The kind whose head a loaded fine-tuned checkpoint carries."""
    for kind in KINDS.values():
        if kind.is_checkpoint_head(model):
            return kind
    raise ValueError(f"{type(model).__name__}: no task kind knows this head")
