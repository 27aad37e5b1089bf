"""Encoded splits cached beside the split they encode: a split is tokenised once per tokenizer,
kind and encoding settings, and every later job of the grid that reads it maps the result.

In xtreme.yaml MNLI's English training split is encoded by 12 source runs and 132 XNLI target
runs, the SQuAD windows by 264; with this cache the first job encodes and the others read.

The key is a hash of everything the encoding depends on: the tokenizer's definition (its
serialised fast tokenizer, input names, padding and truncation sides), the kind and its settings
(a text-to-text verbaliser), the rows themselves (so a sampled subset or a rebuilt split gets its
own entry), max_length, the QA window stride, the source of the kinds package (which holds every
encoder) and the tokenizers library's version. A wrong entry cannot be reused; a damaged one is
encoded again and replaced. Entries are Arrow IPC files written atomically, so jobs that encode
the same split at once leave one whole file, and they are memory-mapped: a hit costs no copy, and
a row becomes Python lists only when a batch asks for it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from xltransfer.kinds.base import TaskKind

log = logging.getLogger(__name__)

# Bumped when the file layout changes, so old entries are never read.
FORMAT = 1
# The cache folder beside a standardised split (`results/<run>/data/<task>/<lang>/encoded/`).
FOLDER = "encoded"
# Schema metadata: the columns that were 0-d tensors, with their dtype (labels).
TENSORS = b"xltransfer.tensors"
LENGTH = "__length__"


def cache_beside(split_file: str | Path) -> Path:
    """The cache folder of a standardised split file."""
    return Path(split_file).parent / FOLDER


# Hashes of the fast tokenizers this process has seen, by id (the tokenizer kept alive with its
# hash, so an id is never reused): XLM-R's definition is 17 MB of JSON, read once per job.
_DEFINITIONS: dict[int, tuple[object, str]] = {}


def tokenizer_fingerprint(tokenizer) -> str | None:
    """A hash of what a fast tokenizer does to text (None: a slow tokenizer, never cached)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    if id(tokenizer) not in _DEFINITIONS:
        definition = json.loads(backend.to_str())
        # Truncation and padding are set on the backend by each call, not part of the tokenizer.
        definition.pop("truncation", None)
        definition.pop("padding", None)
        digest = hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()
        _DEFINITIONS[id(tokenizer)] = (tokenizer, digest)
    sides = [list(tokenizer.model_input_names), tokenizer.padding_side, tokenizer.truncation_side]
    return hashlib.sha256(json.dumps([_DEFINITIONS[id(tokenizer)][1], sides]).encode()).hexdigest()


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """A hash of a frame's rows (its Arrow stream, index left out)."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue()).hexdigest()


@cache
def encoder_source() -> str:
    """A hash of the kinds package's source: a change to any encoder invalidates every entry."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cache_key(
    kind: TaskKind, frame: pd.DataFrame, tokenizer, max_length: int, doc_stride: int
) -> str | None:
    """The entry's name, or None where the tokenizer cannot be fingerprinted."""
    fingerprint = tokenizer_fingerprint(tokenizer)
    if fingerprint is None:
        return None
    import tokenizers

    key = {
        "format": FORMAT,
        "kind": kind.encoding_settings(),
        "tokenizer": fingerprint,
        "tokenizers": tokenizers.__version__,
        "encoders": encoder_source(),
        "rows": frame_fingerprint(frame),
        "max_length": max_length,
        "doc_stride": doc_stride,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]


def encode_once(
    kind: TaskKind,
    frame: pd.DataFrame,
    tokenizer,
    max_length: int,
    doc_stride: int,
    folder: Path | None,
) -> Sequence[dict]:
    """`kind.encode(...)`, mapped from `folder` when an earlier job wrote it, else written there
    (no folder: encoded here and not kept)."""
    name = None if folder is None else cache_key(kind, frame, tokenizer, max_length, doc_stride)
    if name is None:
        return kind.encode(frame, tokenizer, max_length, doc_stride)
    path = Path(folder) / f"{name}.arrow"
    if path.exists():
        started = time.perf_counter()
        try:
            examples = EncodedExamples(path)
        except Exception as error:  # a damaged entry: encode again and replace it
            log.warning("encoded cache %s unreadable (%s); encoding again", path, error)
        else:
            log.info(
                "encoded cache hit: %s (%d examples, read in %.2f s)",
                path,
                len(examples),
                time.perf_counter() - started,
            )
            return examples
    started = time.perf_counter()
    examples = kind.encode(frame, tokenizer, max_length, doc_stride)
    encoded = time.perf_counter() - started
    try:
        write_examples(examples, path)
    except OSError as error:  # a full or read-only disk costs the next job an encoding, no more
        log.warning("encoded cache %s not written (%s)", path, error)
        return examples
    log.info(
        "encoded cache miss: %s (%d examples, encoded in %.2f s, written in %.2f s)",
        path,
        len(examples),
        encoded,
        time.perf_counter() - started - encoded,
    )
    return examples


def example_length(example: dict) -> int:
    """Tokens an encoded example puts in a batch row: its input ids, the longest choice of a
    multiple-choice example, both sentences of a bi-encoder pair."""
    ids = example["input_ids"]
    length = max(map(len, ids)) if ids and isinstance(ids[0], list) else len(ids)
    return length + len(example.get("input_ids_b", ()))


def example_lengths(examples: Sequence[dict]) -> np.ndarray:
    """`example_length` of every example (a cached entry holds them as a column)."""
    if isinstance(examples, EncodedExamples):
        return examples.lengths
    return np.fromiter(map(example_length, examples), dtype=np.int64, count=len(examples))


def write_examples(examples: list[dict], path: Path) -> None:
    """Encoded examples as an Arrow IPC file, one column per key, written atomically."""
    import pyarrow as pa
    import torch

    columns, tensors = {}, {}
    for key in examples[0] if examples else ():
        values = [example[key] for example in examples]
        if isinstance(values[0], torch.Tensor):
            tensors[key] = str(values[0].dtype).removeprefix("torch.")
            values = torch.stack(values).numpy()
        columns[key] = _narrowed(pa.array(values))
    columns[LENGTH] = pa.array(example_lengths(examples), type=pa.int32())
    table = pa.table(columns).replace_schema_metadata({TENSORS: json.dumps(tensors).encode()})
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        with pa.OSFile(str(partial), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _narrowed(array):
    """Token ids, masks and tag labels as int32 (half of int64 on disk and in the page cache)."""
    import pyarrow as pa

    leaf, wrap = array.type, []
    while pa.types.is_list(leaf):
        wrap.append(pa.list_)
        leaf = leaf.value_type
    if not wrap or not pa.types.is_int64(leaf):
        return array
    narrow = pa.int32()
    for make in wrap:
        narrow = make(narrow)
    return array.cast(narrow)


class EncodedExamples(Sequence):
    """A cached entry as a sequence of example dicts, read from a memory-mapped Arrow file row
    by row (what a DataLoader's sampler asks for), equal to what `kind.encode` returned."""

    def __init__(self, path: Path):
        import pyarrow as pa

        with pa.memory_map(str(path)) as source:
            table = pa.ipc.open_file(source).read_all()
        tensors = json.loads((table.schema.metadata or {}).get(TENSORS, b"{}"))
        self.lengths = table.column(LENGTH).to_numpy()
        self._readers = {
            name: _row_reader(table.column(name).combine_chunks(), tensors.get(name))
            for name in table.column_names
            if name != LENGTH
        }

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return {name: read(index) for name, read in self._readers.items()}


def _row_reader(array, tensor_dtype: str | None):
    """A function from a row index to the column's value in that row, as `encode` gave it."""
    import pyarrow as pa

    if array.null_count or array.offset:
        values = array.to_pylist()
        return values.__getitem__
    if tensor_dtype is not None:
        import torch

        dtype = getattr(torch, tensor_dtype)
        values = array.to_numpy(zero_copy_only=False)
        return lambda i: torch.tensor(values[i], dtype=dtype)
    flat_list = pa.types.is_list(array.type) and not array.values.null_count
    if flat_list and not pa.types.is_list(array.type.value_type):
        offsets, flat = array.offsets.to_numpy(), array.values.to_numpy(zero_copy_only=False)
        return lambda i: flat[offsets[i] : offsets[i + 1]].tolist()
    if flat_list and not array.values.values.null_count and not array.values.offset:
        outer, inner = array.offsets.to_numpy(), array.values.offsets.to_numpy()
        flat = array.values.values.to_numpy(zero_copy_only=False)
        return lambda i: [
            flat[inner[j] : inner[j + 1]].tolist() for j in range(outer[i], outer[i + 1])
        ]
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        values = array.to_numpy()
        return lambda i: values[i].item()
    values = array.to_pylist()
    return values.__getitem__
