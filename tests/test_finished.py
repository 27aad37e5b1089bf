"""A finished fine-tune kept for a retry: put back for the same spec, discarded for another."""

from __future__ import annotations

import json

from xltransfer.training.finished import (
    finished_folder,
    keep_finished,
    release_finished,
    restore_finished,
)

SPEC = {"model": "m", "seed": 1, "hyperparameters": {"learning_rate": 1e-4}, "threads": 4}


def checkpoint(tmp_path, spec=SPEC):
    folder = tmp_path / "target" / "none" / "xnli"
    (folder / "sub").mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "sub" / "tokenizer.json").write_text("{}")
    (folder / "summary.json").write_text(json.dumps({"spec": spec}))
    return folder


def test_a_kept_fine_tune_comes_back_as_links_for_the_same_spec(tmp_path):
    folder = checkpoint(tmp_path)
    keep_finished(folder)
    kept = finished_folder(folder)
    assert (kept / "model.safetensors").stat().st_ino == (
        folder / "model.safetensors"
    ).stat().st_ino
    # Snakemake deletes the output before the retry runs; the kept links hold the files.
    for path in sorted(folder.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    folder.rmdir()
    other_threads = {**SPEC, "threads": 1}  # threads decide nothing
    assert restore_finished(other_threads, folder, "summary.json")
    assert (folder / "model.safetensors").read_bytes() == b"weights"
    assert (folder / "sub" / "tokenizer.json").read_text() == "{}"
    release_finished(folder)
    assert not kept.exists() and (folder / "model.safetensors").exists()
    assert not restore_finished(SPEC, folder, "summary.json")  # released: a retry trains


def test_a_kept_fine_tune_of_another_spec_is_discarded(tmp_path):
    folder = checkpoint(tmp_path)
    keep_finished(folder)
    changed = {**SPEC, "hyperparameters": {"learning_rate": 2e-4}}
    assert not restore_finished(changed, folder, "summary.json")
    assert not finished_folder(folder).exists()
