"""A Parquet input or a checkpoint that cannot be read is named and, where the workflow built it,
moved aside so that the next run recomputes it."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from xltransfer.analysis import gains as analysis
from xltransfer.data import load as data
from xltransfer.evaluation import zero_shot
from xltransfer.io import (
    CorruptInputError,
    parquet_rows_checked,
    read_parquet_checked,
    read_parquets_checked,
    unreadable_parquets,
    write_parquet_atomic,
)
from xltransfer.models import factory as models
from xltransfer.models.checkpoints import CorruptCheckpointError, checked_checkpoint
from xltransfer.similarity import embeddings
from xltransfer.spec import TaskHead


def _shard(rows: list[tuple]) -> pd.DataFrame:
    """A score shard in the layout the evaluate jobs write."""
    return pd.DataFrame(
        [
            {
                "run": f"m/{source}/xnli/1",
                "model": "m",
                "source": source,
                "target": "xnli",
                "language": language,
                "seed": 1,
                "shard": 0,
                "metric": "accuracy",
                "value": value,
                "primary": True,
                "git_commit": "abc123",
            }
            for source, language, value in rows
        ]
    )


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture
def good(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    frame = _shard([("none", "de", 0.5), ("none", "en", 0.8)])
    path = tmp_path / "good.parquet"
    write_parquet_atomic(frame, path)
    return path, frame


def test_good_file_read_unchanged(good) -> None:
    path, frame = good
    pd.testing.assert_frame_equal(read_parquet_checked(path), frame)
    assert path.exists() and not path.with_name("good.parquet.corrupt").exists()


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbled"])
def test_corrupt_file_moved_aside(good, damage: str) -> None:
    path, _ = good
    data = path.read_bytes()
    if damage == "truncated":  # pyarrow: ArrowInvalid, "magic bytes not found in footer"
        _truncate(path)
    elif damage == "empty":  # ArrowInvalid, "file size is 0 bytes"
        path.write_bytes(b"")
    else:  # ends intact, body zeroed: OSError, "Couldn't deserialize thrift"
        path.write_bytes(data[:8] + bytes(len(data) - 16) + data[-8:])
    damaged = path.read_bytes()
    with pytest.raises(CorruptInputError) as err:
        read_parquet_checked(path)
    message = str(err.value)
    assert str(path) in message
    assert "moved to good.parquet.corrupt" in message
    assert "next run recomputes" in message
    assert err.value.paths == [path]
    assert not path.exists()
    assert path.with_name("good.parquet.corrupt").read_bytes() == damaged


def test_older_corrupt_copy_is_replaced(good) -> None:
    path, _ = good
    aside = path.with_name("good.parquet.corrupt")
    aside.write_bytes(b"old")
    path.write_bytes(b"")
    with pytest.raises(CorruptInputError):
        read_parquet_checked(path)
    assert aside.read_bytes() == b""


def test_missing_file_is_not_corrupt(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_parquet_checked(tmp_path / "absent.parquet")


def test_all_corrupt_files_named_in_one_error(tmp_path: Path, good) -> None:
    path, _ = good
    bad = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    for p in bad:
        write_parquet_atomic(_shard([("mnli", "de", 0.6)]), p)
        _truncate(p)
    with pytest.raises(CorruptInputError) as err:
        read_parquets_checked([bad[0], path, bad[1]])
    assert err.value.paths == bad
    lines = str(err.value).splitlines()
    assert lines[0].startswith("2 unreadable Parquet input(s)")
    assert [line.split(": ")[0] for line in lines[1:]] == [str(p) for p in bad]
    assert all(not p.exists() and p.with_name(p.name + ".corrupt").exists() for p in bad)
    assert path.exists()


def test_aggregate_heals_after_producer_rerun(tmp_path: Path) -> None:
    frames = {
        "a": _shard([("none", "de", 0.5), ("none", "en", 0.8)]),
        "b": _shard([("mnli", "de", 0.6)]),
        "c": _shard([("mnli", "en", 0.9)]),
    }
    reference_dir = tmp_path / "reference"
    shards_dir = tmp_path / "shards"
    paths = {}
    for name, frame in frames.items():
        write_parquet_atomic(frame, reference_dir / f"{name}.parquet")
        paths[name] = shards_dir / f"{name}.parquet"
        write_parquet_atomic(frame, paths[name])
    expected = analysis.aggregate_scores(
        [reference_dir / f"{name}.parquet" for name in frames], allow_partial=False
    )
    assert len(expected) == 4

    _truncate(paths["b"])
    with pytest.raises(CorruptInputError, match="b.parquet") as err:
        analysis.aggregate_scores(list(paths.values()), allow_partial=False)
    assert err.value.paths == [paths["b"]]
    assert not paths["b"].exists()
    # What Snakemake sees next time: the shard is missing, so its producer reruns.
    with pytest.raises(analysis.MissingShardsError, match="b.parquet"):
        analysis.aggregate_scores(list(paths.values()), allow_partial=False)

    write_parquet_atomic(frames["b"], paths["b"])  # the producer's rerun
    healed = analysis.aggregate_scores(list(paths.values()), allow_partial=False)
    pd.testing.assert_frame_equal(healed, expected)


def test_file_inside_a_directory_output_moves_the_folder(tmp_path: Path) -> None:
    # Snakemake does not look inside a directory output: the whole folder has to go.
    benchmark = tmp_path / "demo_hub"
    corpus = benchmark / "corpus" / "corpus.parquet"
    write_parquet_atomic(pd.DataFrame({"text": ["a b c"]}), corpus)
    _truncate(corpus)
    with pytest.raises(CorruptInputError, match="moved to demo_hub.corrupt"):
        read_parquet_checked(corpus, aside=benchmark)
    assert not benchmark.exists()
    assert (tmp_path / "demo_hub.corrupt" / "corpus" / "corpus.parquet").exists()


def test_row_counts_read_from_footers(tmp_path: Path, good) -> None:
    path, frame = good
    bad = tmp_path / "bad.parquet"
    write_parquet_atomic(frame, bad)
    assert parquet_rows_checked([path, bad]) == [2, 2]
    _truncate(bad)
    with pytest.raises(CorruptInputError, match="bad.parquet"):
        parquet_rows_checked([path, bad])
    assert not bad.exists() and path.exists()


def test_prepared_split_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "train.parquet"
    write_parquet_atomic(pd.DataFrame({"text_a": ["x"], "text_b": [None], "label": [0]}), path)
    _truncate(path)
    with pytest.raises(CorruptInputError, match="train.parquet"):
        data.read_standard(path)
    assert path.with_name("train.parquet.corrupt").exists()


def test_dataset_file_named_not_moved(tmp_path: Path) -> None:
    # A dataset folder belongs to the user or to the staging cache: never moved.
    from test_data import xnli

    from xltransfer.demo import build_benchmark

    hub = tmp_path / "hub"
    languages = {"cy0": {"overlap": 0.0, "script": "cyrillic"}}
    sizes = {"train_size": 10, "dev_size": 10, "test_size": 10}
    build_benchmark(hub, seed=5, languages=languages, **sizes, corpus_sentences_per_language=5)
    task = xnli(hub, languages=("en", "cy0"))
    (shard,) = (hub / "xnli" / "cy0").rglob("test*.parquet")
    _truncate(shard)
    assert [path for path, _ in unreadable_parquets([shard])] == [shard]
    with pytest.raises(data.DatasetError, match=f"unreadable file {shard}"):
        data.load_split(task, "cy0", "test")
    assert shard.exists() and not shard.with_name(shard.name + ".corrupt").exists()


# Checkpoints: a model folder with unreadable files.


@pytest.fixture
def built(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A copy of the tiny model marked as built by this workflow (a fine-tune's summary)."""
    folder = tmp_path / "source" / "mnli"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "training_summary.json").write_text("{}")
    return folder


def _damage(folder: Path, damage: str) -> None:
    weights = folder / "model.safetensors"
    if damage == "truncated":  # SafetensorError: incomplete metadata, file not fully covered
        _truncate(weights)
    elif damage == "garbled":  # SafetensorError: invalid JSON in header
        weights.write_bytes(bytes(weights.stat().st_size))
    else:  # transformers: OSError from a JSONDecodeError
        (folder / "config.json").write_text('{"architectures": ')


@pytest.mark.parametrize("damage", ["truncated", "garbled", "config"])
def test_built_checkpoint_moved_aside(built: Path, damage: str) -> None:
    _damage(built, damage)
    with pytest.raises(CorruptCheckpointError) as err:
        embeddings.frozen_encoder(str(built))
    assert f"unreadable model folder {built}" in str(err.value)
    assert "moved to mnli.corrupt, so the next run rebuilds it" in str(err.value)
    assert err.value.moved and not built.exists()
    assert (built.parent / "mnli.corrupt" / "model.safetensors").exists()


def test_source_checkpoint_checked_when_carried_over(tiny_model_dir: Path, built: Path) -> None:
    _damage(built, "truncated")
    head = TaskHead(task="xnli", head="classification", labels=("a", "b"), metric="accuracy")
    with pytest.raises(CorruptCheckpointError, match="mnli.corrupt"):
        models.build_classifier(str(tiny_model_dir), None, head, str(built))
    assert not built.exists()


def test_unreadable_training_summary_moves_target_checkpoint(built: Path, tmp_path) -> None:
    (built / "training_summary.json").write_text('{"spec": ')
    with pytest.raises(CorruptCheckpointError, match="mnli.corrupt"):
        zero_shot.evaluate_shard(built, {}, context={})
    assert not built.exists()


def test_model_not_built_here_is_named_not_moved(tiny_model_dir: Path, tmp_path: Path) -> None:
    # A staged Hub model or the user's own folder: no workflow record in it.
    folder = tmp_path / "staged"
    shutil.copytree(tiny_model_dir, folder)
    _damage(folder, "truncated")
    with pytest.raises(CorruptCheckpointError) as err:
        embeddings.frozen_encoder(str(folder))
    assert f"unreadable model folder {folder}" in str(err.value)
    assert "left in place" in str(err.value)
    assert not err.value.moved and (folder / "model.safetensors").exists()


def test_other_errors_pass_through(built: Path) -> None:
    (built / "model.safetensors").unlink()  # missing, not unreadable: the loader's own error
    with pytest.raises(OSError, match="no file named model.safetensors"):
        embeddings.frozen_encoder(str(built))
    with pytest.raises(RuntimeError, match="CUDA"), checked_checkpoint(built):
        raise RuntimeError("CUDA out of memory")
    assert built.exists()


def test_good_checkpoint_loads(built: Path) -> None:
    _, encoder = embeddings.frozen_encoder(str(built))
    assert encoder.config.hidden_size == 32
    assert built.exists()
