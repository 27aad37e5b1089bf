"""The three encoder families the workflow can build offline: XLM-R, BERT (mBERT) and mT5.

Each family has its own tokenizer layout (special tokens, pair template, token type ids), its
own configuration class and its own pretraining objective:

* `xlmr`: SentencePiece-style BPE, `<s> A </s></s> B </s>`, masked LM.
* `bert`: WordPiece, `[CLS] A [SEP] B [SEP]` with token type ids 0/1, masked LM.
* `mt5`: SentencePiece-style BPE, `A </s> B </s>` (no first token, no type ids), T5's span
  corruption: random spans become sentinels `<extra_id_N>` and the decoder writes them out.

Hub checkpoints of these families (FacebookAI/xlm-roberta-base, google-bert/bert-base-
multilingual-cased, google/mt5-base) load through the same `Auto*` classes as these builds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch
from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import (
    BertConfig,
    BertForMaskedLM,
    MT5Config,
    MT5ForConditionalGeneration,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    XLMRobertaConfig,
    XLMRobertaForMaskedLM,
)

from xltransfer.spec import PretrainSpec

ARCHITECTURES = ("xlmr", "bert", "mt5")
# Special tokens in each family's own id order (T5: pad 0, eos 1, unk 2).
XLMR_SPECIAL = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
BERT_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
MT5_SENTINELS = [f"<extra_id_{i}>" for i in range(32)]
MT5_SPECIAL = ["<pad>", "</s>", "<unk>", *MT5_SENTINELS]


def _check(architecture: str) -> None:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; known: {list(ARCHITECTURES)}")


def _metaspace_bpe(texts: Iterable[str], vocab_size: int, special: list[str]) -> Tokenizer:
    # The tokenizers Unigram trainer splits even frequent words on a corpus as small and
    # repetitive as the demo's; BPE merges them (XLM-R and mT5 themselves use Unigram).
    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.normalizer = normalizers.NFKC()
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=special, show_progress=False
    )
    backend.train_from_iterator(texts, trainer=trainer)
    return backend


def _xlmr_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    backend = _metaspace_bpe(texts, vocab_size, XLMR_SPECIAL)
    bos, eos = backend.token_to_id("<s>"), backend.token_to_id("</s>")
    backend.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
    )


def _bert_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    backend = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    # Cased, accents kept: what bert-base-multilingual-cased does.
    backend.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=BERT_SPECIAL, show_progress=False
    )
    backend.train_from_iterator(texts, trainer=trainer)
    cls, sep = backend.token_to_id("[CLS]"), backend.token_to_id("[SEP]")
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
        unk_token="[UNK]",
        model_input_names=["input_ids", "token_type_ids", "attention_mask"],
    )


def _mt5_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    backend = _metaspace_bpe(texts, vocab_size, MT5_SPECIAL)
    eos = backend.token_to_id("</s>")
    backend.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", eos)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        additional_special_tokens=MT5_SENTINELS,
        # T5 has no segment embedding: its models take no token_type_ids.
        model_input_names=["input_ids", "attention_mask"],
    )


def train_family_tokenizer(
    texts: Iterable[str], vocab_size: int, architecture: str = "xlmr"
) -> PreTrainedTokenizerFast:
    """A tokenizer trained on `texts` with the special tokens and templates of a family."""
    _check(architecture)
    builder = {"xlmr": _xlmr_tokenizer, "bert": _bert_tokenizer, "mt5": _mt5_tokenizer}
    return builder[architecture](list(texts), vocab_size)


def build_pretraining_model(tokenizer, spec: PretrainSpec) -> PreTrainedModel:
    """A randomly initialised pretraining model (masked LM, or mT5's encoder-decoder)."""
    _check(spec.architecture)
    if spec.architecture == "mt5":
        config = MT5Config(
            vocab_size=len(tokenizer),
            d_model=spec.hidden_size,
            d_kv=spec.hidden_size // spec.num_attention_heads,
            d_ff=spec.intermediate_size,
            num_layers=spec.num_hidden_layers,
            num_decoder_layers=spec.num_hidden_layers,
            num_heads=spec.num_attention_heads,
            feed_forward_proj="gated-gelu",  # mT5's (T5 v1.1) feed-forward
            tie_word_embeddings=False,  # mT5 unties the LM head from the shared embedding
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            decoder_start_token_id=tokenizer.pad_token_id,
        )
        return MT5ForConditionalGeneration(config)
    sizes = dict(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        intermediate_size=spec.intermediate_size,
        max_position_embeddings=spec.max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
    )
    if spec.architecture == "bert":
        return BertForMaskedLM(BertConfig(**sizes, type_vocab_size=2))
    config = XLMRobertaConfig(
        **sizes, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id
    )
    return XLMRobertaForMaskedLM(config)


# Masked rows are padded to a multiple of this before the vocabulary projection: a CPU matmul
# is planned per shape, and an exact count per batch made every step a new shape (10x slower).
MASKED_ROWS_MULTIPLE = 256


def masked_lm_loss(model: PreTrainedModel, batch: dict) -> torch.Tensor:
    """The masked-LM loss of an encoder (XLM-R, BERT) with its LM head applied to the masked
    positions only, not to every token: the same loss and gradients as `model(**batch).loss`
    (positions without a label add nothing to either), at about 2/3 of the step time of a
    small-hidden, large-vocabulary model such as the demo's."""
    labels = batch["labels"]
    inputs = {key: value for key, value in batch.items() if key != "labels"}
    states = model.base_model(**inputs).last_hidden_state
    (head,) = [module for module in model.children() if module is not model.base_model]
    flat_labels = labels.reshape(-1)
    rows = (flat_labels != -100).nonzero().squeeze(1)
    count = rows.numel()
    padded = -(-count // MASKED_ROWS_MULTIPLE) * MASKED_ROWS_MULTIPLE
    rows = torch.cat([rows, rows.new_zeros(padded - count)])
    targets = flat_labels[rows].clone()
    targets[count:] = -100  # the padding rows: ignored by the loss
    logits = head(states.reshape(-1, states.shape[-1]).index_select(0, rows))
    return torch.nn.functional.cross_entropy(logits, targets, ignore_index=-100)


def span_corruption(
    ids: Sequence[int],
    sentinels: Sequence[int],
    eos_id: int,
    rng: np.random.Generator,
    noise_density: float = 0.15,
    mean_span: float = 3.0,
) -> tuple[list[int], list[int]]:
    """T5's denoising pair for one sequence (without its `</s>`): the input with each noise span
    replaced by the next sentinel, and the target listing each sentinel then its span's tokens.
    """
    n = len(ids)
    n_noise = min(max(1, round(n * noise_density)), n - 1) if n > 1 else 0
    n_spans = min(max(1, round(n_noise / mean_span)), n_noise, n - n_noise, len(sentinels) - 1)
    n_spans = n_spans if n_noise else 0
    if not n_spans:
        return [*ids, eos_id], [eos_id]
    # Split the noise and the kept tokens into n_spans non-empty runs each, then interleave
    # kept, noise, kept, noise ... (T5's random_spans_noise_mask, in plain numpy).
    noise_cuts = np.sort(rng.choice(np.arange(1, n_noise), n_spans - 1, replace=False))
    kept_cuts = np.sort(rng.choice(np.arange(1, n - n_noise), n_spans - 1, replace=False))
    noise_lengths = np.diff([0, *noise_cuts, n_noise])
    kept_lengths = np.diff([0, *kept_cuts, n - n_noise])
    inputs, targets, position = [], [], 0
    for span, (kept, noise) in enumerate(zip(kept_lengths, noise_lengths, strict=True)):
        inputs += list(ids[position : position + kept]) + [sentinels[span]]
        position += kept
        targets += [sentinels[span], *ids[position : position + noise]]
        position += noise
    return [*inputs, eos_id], [*targets, sentinels[n_spans], eos_id]


class SpanCorruptionCollator:
    """Batches of T5 denoising pairs: inputs padded with `<pad>`, labels with -100."""

    def __init__(self, tokenizer, noise_density: float, seed: int):
        self.pad_id, self.eos_id = tokenizer.pad_token_id, tokenizer.eos_token_id
        self.sentinels = tokenizer.convert_tokens_to_ids(MT5_SENTINELS)
        self.noise_density = noise_density
        self.rng = np.random.default_rng(seed)

    def __call__(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        pairs = []
        for example in examples:
            ids = [i for i in example["input_ids"] if i != self.eos_id]
            pairs.append(
                span_corruption(ids, self.sentinels, self.eos_id, self.rng, self.noise_density)
            )
        width = max(len(inputs) for inputs, _ in pairs)
        target_width = max(len(targets) for _, targets in pairs)
        input_ids = [inputs + [self.pad_id] * (width - len(inputs)) for inputs, _ in pairs]
        mask = [[1] * len(inputs) + [0] * (width - len(inputs)) for inputs, _ in pairs]
        labels = [targets + [-100] * (target_width - len(targets)) for _, targets in pairs]
        return {
            "input_ids": torch.tensor(input_ids),
            "attention_mask": torch.tensor(mask),
            "labels": torch.tensor(labels),
        }
