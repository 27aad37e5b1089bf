"""Model factory: one place that builds encoders and heads through the `Auto*` classes."""

from __future__ import annotations

import logging

import transformers
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from xltransfer.kinds import KINDS, get_kind
from xltransfer.kinds.base import TaskKind
from xltransfer.models.bi_encoder import BiEncoder, is_bi_encoder
from xltransfer.models.carry_over import carry_encoder
from xltransfer.models.checkpoints import checked_checkpoint
from xltransfer.spec import TaskHead

log = logging.getLogger(__name__)


def load_tokenizer(name_or_path: str, revision: str | None = None) -> PreTrainedTokenizerBase:
    """Tokenizer of a local folder (trust_remote_code stays off). Every model load starts here,
    so a Hub id that was never staged stops at once instead of reaching for the network."""
    from xltransfer.data.staging import STAGE_RULE, StagingError
    from xltransfer.data.tasks import is_local_reference

    if not is_local_reference(str(name_or_path)):
        raise StagingError(
            f"model repository {name_or_path!r} is a Hub id, and jobs run offline on staged "
            f"files only; stage it with {STAGE_RULE}"
        )
    with checked_checkpoint(name_or_path):
        return AutoTokenizer.from_pretrained(name_or_path, revision=revision)


def model_class(kind: TaskKind):
    """The class that builds and loads checkpoints of a kind's head: a transformers Auto class,
    or the workflow's own Siamese `BiEncoder`."""
    name = kind.model_class_name
    return BiEncoder if name == BiEncoder.__name__ else getattr(transformers, name)


def head_class(head: str):
    """The model class of the kind named `head` (a run spec's `task.head`)."""
    return model_class(get_kind(head))


def _head_config(name_or_path: str, revision: str | None, head: TaskHead):
    options = head.kind.head_config(head.labels)
    return AutoConfig.from_pretrained(name_or_path, revision=revision, **options)


def checkpoint_head_class(checkpoint: str):
    """The class a fine-tuned checkpoint was saved with, from its architecture name."""
    if is_bi_encoder(checkpoint):
        return BiEncoder
    with checked_checkpoint(checkpoint):
        architectures = AutoConfig.from_pretrained(checkpoint).architectures or []
    for kind in KINDS.values():
        suffix = kind.architecture_suffix
        if suffix and any(name.endswith(suffix) for name in architectures):
            return model_class(kind)
    return AutoModelForSequenceClassification


def same_label_space(a: PreTrainedModel, head: TaskHead) -> bool:
    """True when a checkpoint's head predicts exactly the labels (in order) this task needs;
    a label-free head (spans, choices, cosines) fits every task of its kind."""
    return head.kind.same_label_space(a.config, head.labels)


def build_classifier(
    init_model: str, revision: str | None, head: TaskHead, init_checkpoint: str | None
) -> tuple[PreTrainedModel, bool]:
    """A model for `head` (sequence or token head), its encoder carried over from a checkpoint.

    The head is always first built fresh from the pretrained model, so for a given seed the
    baseline and every source->target run start from the same head; the source checkpoint's head
    replaces it only when both predict the same label space (e.g. MNLI -> XNLI). A source of
    another head kind (NER before XNLI) passes on its encoder only, by name (`carry_over`):
    embeddings and encoder stack, never a pooler or mT5's decoder.
    Returns the model and whether the head was carried over.
    """
    target_class = model_class(head.kind)
    with checked_checkpoint(init_model):
        if target_class is BiEncoder:  # no head: the pretrained encoder is the whole model
            model = BiEncoder.from_pretrained(init_model, revision=revision)
        else:
            model = target_class.from_pretrained(
                init_model, revision=revision, config=_head_config(init_model, revision, head)
            )
    if init_checkpoint is None:
        return model, False
    source_class = checkpoint_head_class(init_checkpoint)
    with checked_checkpoint(init_checkpoint):
        source = source_class.from_pretrained(init_checkpoint)
    carry_head = source_class is target_class and same_label_space(source, head)
    if carry_head:
        model.load_state_dict(source.state_dict())
        log.info("encoder and head carried over from %s", init_checkpoint)
    else:
        carried = carry_encoder(model, source)
        parts = sorted({name.split(".")[0] for name in carried})
        log.info(
            "encoder carried over from %s (%d tensors of %s); head new",
            init_checkpoint,
            len(carried),
            "/".join(parts),
        )
    del source
    return model, carry_head
