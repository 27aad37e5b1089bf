"""The Accelerate training loop on a 1-layer model, on CPU, in seconds."""

from __future__ import annotations

import json
import os

import pytest
import torch

from xltransfer.spec import FinetuneSpec, Hyperparameters, TaskHead
from xltransfer.training.loop import (
    SUMMARY_FILE,
    TrainingError,
    accumulation_steps,
    optimizer_steps_per_epoch,
    run_finetune,
)

HP = Hyperparameters(
    epochs=2,
    learning_rate=1e-3,
    weight_decay=0.01,
    warmup_ratio=0.1,
    global_batch_size=16,
    per_device_batch_size=8,
    max_length=32,
    max_grad_norm=1.0,
    mixed_precision="no",  # as the workflow resolves auto for a CPU job
    max_train_examples=None,
    eval_batch_size=32,
)
PAIR = TaskHead(task="toy", head="classification", labels=("different", "same"), metric="accuracy")


def make_spec(model_dir, splits, **changes) -> FinetuneSpec:
    values = dict(
        model="tiny",
        init_model=str(model_dir),
        revision=None,
        init_checkpoint=None,
        task=PAIR,
        train_file=str(splits["train"]),
        dev_file=str(splits["dev"]),
        seed=3,
        hyperparameters=HP,
    )
    return FinetuneSpec(**{**values, **changes})


def test_accumulation_keeps_the_global_batch():
    assert accumulation_steps(HP, 1) == 2
    assert accumulation_steps(HP, 2) == 1
    with pytest.raises(TrainingError, match="not a multiple"):
        accumulation_steps(HP, 3)
    # 96 examples, 8 per device, 2 micro-batches per step -> 6 steps on one process.
    assert optimizer_steps_per_epoch(96, HP, 1) == 6


def test_spec_round_trips_through_json(tiny_model_dir, toy_splits):
    spec = make_spec(tiny_model_dir, toy_splits)
    assert FinetuneSpec.from_json(spec.to_json()) == spec


def test_finetune_writes_checkpoint_and_summary(tiny_model_dir, toy_splits, tmp_path):
    out = tmp_path / "ckpt"
    state = run_finetune(make_spec(tiny_model_dir, toy_splits), out)
    assert state.optimizer_steps == 12  # 2 epochs x 6 accumulated steps
    assert len(state.history) == 2 and state.best_epoch in (0, 1)
    assert (out / "model.safetensors").exists()
    assert not out.with_name("ckpt.partial").exists()
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["num_processes"] == 1
    assert summary["global_batch_size"] == 16
    assert summary["gradient_accumulation_steps"] == 2
    assert summary["mixed_precision"] == "no"  # the spec's precision, recorded as run
    assert summary["spec"]["hyperparameters"]["mixed_precision"] == summary["mixed_precision"]
    assert summary["versions"]["torch"] == torch.__version__


def test_same_seed_same_result(tiny_model_dir, toy_splits, tmp_path):
    a = run_finetune(make_spec(tiny_model_dir, toy_splits), tmp_path / "a")
    b = run_finetune(make_spec(tiny_model_dir, toy_splits), tmp_path / "b")
    assert a.history[-1]["loss"] == pytest.approx(b.history[-1]["loss"], rel=1e-6)


def test_head_carried_over_only_for_the_same_label_space(tiny_model_dir, toy_splits, tmp_path):
    source = tmp_path / "source"
    run_finetune(make_spec(tiny_model_dir, toy_splits), source)
    same = tmp_path / "same"
    run_finetune(make_spec(tiny_model_dir, toy_splits, init_checkpoint=str(source)), same)
    assert json.loads((same / SUMMARY_FILE).read_text())["head_carried_over"] is True
    other = TaskHead(task="toy2", head="classification", labels=("no", "yes"), metric="accuracy")
    new = tmp_path / "new"
    run_finetune(
        make_spec(tiny_model_dir, toy_splits, init_checkpoint=str(source), task=other), new
    )
    assert json.loads((new / SUMMARY_FILE).read_text())["head_carried_over"] is False


def test_encoder_is_carried_over_and_new_head_matches_the_baseline(
    tiny_model_dir, toy_splits, tmp_path
):
    from transformers import AutoModelForSequenceClassification, set_seed

    from xltransfer.models.factory import build_classifier

    source = tmp_path / "source"
    run_finetune(make_spec(tiny_model_dir, toy_splits), source)
    trained = AutoModelForSequenceClassification.from_pretrained(source)
    other = TaskHead(task="toy2", head="classification", labels=("no", "yes"), metric="accuracy")
    set_seed(7)
    model, carried = build_classifier(str(tiny_model_dir), None, other, str(source))
    set_seed(7)
    baseline, _ = build_classifier(str(tiny_model_dir), None, other, None)
    assert not carried
    for name, value in model.base_model.state_dict().items():
        assert torch.equal(value, trained.base_model.state_dict()[name]), name
    for name, value in model.classifier.state_dict().items():
        assert torch.equal(value, baseline.classifier.state_dict()[name]), name


def test_killed_run_resumes_and_matches_an_uninterrupted_one(
    tiny_model_dir, toy_splits, tmp_path, monkeypatch
):
    import dataclasses

    from xltransfer.training.loop import FAIL_AFTER_STEPS, resume_folder

    hp = dataclasses.replace(HP, checkpoint_steps=2)
    spec = make_spec(tiny_model_dir, toy_splits, hyperparameters=hp)
    reference = run_finetune(spec, tmp_path / "reference")

    out = tmp_path / "resumed"
    monkeypatch.setenv(FAIL_AFTER_STEPS, "9")  # mid-epoch 1; the last checkpoint is at step 8
    with pytest.raises(TrainingError, match="failing as asked"):
        run_finetune(spec, out)
    assert not out.exists()  # nothing half-written where Snakemake looks
    # One resume state on disk: each save drops the one before it.
    assert len(list((resume_folder(out) / "checkpoints").iterdir())) == 1
    # A kill during save_state leaves a folder without its last file: it must be skipped.
    cut_off = resume_folder(out) / "checkpoints" / "checkpoint_7"
    cut_off.mkdir()
    (cut_off / "model.safetensors").write_bytes(b"half a file")
    monkeypatch.delenv(FAIL_AFTER_STEPS)
    resumed = run_finetune(spec, out)

    assert resumed.optimizer_steps == reference.optimizer_steps == 12
    for ours, theirs in zip(resumed.history, reference.history, strict=True):
        assert ours["loss"] == pytest.approx(theirs["loss"], abs=1e-5)
        assert ours["accuracy"] == pytest.approx(theirs["accuracy"], abs=1e-9)
    assert (out / "model.safetensors").exists()
    assert not resume_folder(out).exists()


def test_resume_state_is_also_saved_on_a_wall_clock_interval(
    tiny_model_dir, toy_splits, tmp_path, monkeypatch
):
    import dataclasses

    from xltransfer.training.loop import FAIL_AFTER_STEPS, complete_checkpoints, resume_folder

    # No step interval; every step is "late" on the clock (a microsecond interval).
    hp = dataclasses.replace(HP, checkpoint_steps=0, checkpoint_minutes=1e-8)
    monkeypatch.setenv(FAIL_AFTER_STEPS, "3")
    with pytest.raises(TrainingError, match="failing as asked"):
        run_finetune(make_spec(tiny_model_dir, toy_splits, hyperparameters=hp), tmp_path / "run")
    saved = complete_checkpoints(resume_folder(tmp_path / "run") / "checkpoints")
    # Saved after steps 1, 2 and 3 (checkpoint_0 to _2) before step 3 failed; only the newest
    # is kept.
    assert [p.name for p in saved] == ["checkpoint_2"]


def test_checkpoints_of_another_spec_are_not_resumed(tiny_model_dir, toy_splits, tmp_path):
    import dataclasses

    from xltransfer.training.loop import resume_folder

    out = tmp_path / "run"
    stale = resume_folder(out) / "checkpoints" / "checkpoint_0"
    stale.mkdir(parents=True)
    (resume_folder(out) / "spec.json").write_text("{}")
    hp = dataclasses.replace(HP, epochs=1)
    state = run_finetune(make_spec(tiny_model_dir, toy_splits, hyperparameters=hp), out)
    assert state.optimizer_steps == 6 and len(state.history) == 1


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def without_dropout(model_dir, folder):
    """A copy of a model with dropout off, so runs on different process counts can agree."""
    import shutil

    shutil.copytree(model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def finetune_on_two_ranks(spec: FinetuneSpec, output) -> dict:
    """Run the fine-tuning entry point under torchrun with 2 CPU (gloo) ranks; its summary."""
    import subprocess
    import sys

    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    launch += ["--master_addr", "127.0.0.1", "--master_port", str(free_port())]
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [*launch, "-m", "xltransfer.cli.finetune", "--spec", spec.to_json()]
        + ["--output", str(output)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((output / SUMMARY_FILE).read_text())


def test_two_processes_equal_one_process_with_accumulation(tiny_model_dir, toy_splits, tmp_path):
    """Data parallelism keeps the global batch: 2 ranks x 8 equals 1 rank x 8 x 2 micro-batches.

    The ranks run under torchrun on CPU (gloo), without dropout, so both runs see the same
    examples in each optimizer step and must end with the same weights.
    """
    from safetensors.torch import load_file

    spec = make_spec(without_dropout(tiny_model_dir, tmp_path / "no-dropout"), toy_splits)
    one = run_finetune(spec, tmp_path / "one")
    summary = finetune_on_two_ranks(spec, tmp_path / "two")
    assert summary["num_processes"] == 2
    assert summary["gradient_accumulation_steps"] == 1
    assert summary["global_batch_size"] == 16
    two = summary["state"]
    assert two["optimizer_steps"] == one.optimizer_steps == 12
    for theirs, ours in zip(two["history"], one.history, strict=True):
        assert theirs["loss"] == pytest.approx(ours["loss"], abs=1e-5)
        assert theirs["accuracy"] == pytest.approx(ours["accuracy"], abs=1e-9)
    weights_two = load_file(tmp_path / "two" / "model.safetensors")
    for name, value in load_file(tmp_path / "one" / "model.safetensors").items():
        torch.testing.assert_close(weights_two[name], value, atol=1e-5, rtol=1e-4)


def test_a_launch_that_forms_no_process_group_is_refused(monkeypatch):
    from accelerate import PartialState

    from xltransfer.training.loop import process_state

    PartialState._reset_state()
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets it, but no group on this process
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    try:
        with pytest.raises(
            TrainingError, match="started 2 processes but Accelerate formed a group of 1"
        ):
            process_state()
    finally:
        PartialState._reset_state()


# Losses are read every LOSS_SYNC_EVERY batches (50): 1 reads each, 4 finds the diverged
# batch among several read at once (the toy epoch has 6 batches, so 50 reads at its end).
@pytest.mark.parametrize("sync_every", [1, 4, 50])
def test_a_diverging_run_stops_naming_the_step_and_the_learning_rate(
    tiny_model_dir, toy_splits, tmp_path, monkeypatch, sync_every
):
    import dataclasses

    from xltransfer.training import loop

    monkeypatch.setattr(loop, "LOSS_SYNC_EVERY", sync_every)

    # A rate no model survives: after the first update the weights are ~1e30 and the next
    # forward pass overflows float32, so the loss of step 2 is inf or nan.
    hp = dataclasses.replace(HP, learning_rate=1e30, warmup_ratio=0.0)
    spec = make_spec(tiny_model_dir, toy_splits, hyperparameters=hp)
    with pytest.raises(TrainingError) as error:
        run_finetune(spec, tmp_path / "out")
    message = str(error.value)
    assert message.startswith("non-finite loss")
    assert "at optimizer step 2 " in message
    # Linear decay without warm-up: after one of 12 steps (2 epochs x 6) the rate is 11/12.
    assert f"learning rate {1e30 * 11 / 12:.3g} (configured 1e+30)" in message
    assert not (tmp_path / "out").exists()  # nothing half-written where Snakemake looks
