"""A job's first check of its GPUs and precision, on stated facts and on this machine's torch."""

from __future__ import annotations

import pytest
import torch

from xltransfer.training.devices import (
    DeviceError,
    DeviceFacts,
    check_gpus,
    check_precision,
    require_gpus,
)

CPU_BUILD = DeviceFacts(cuda_build=None, device_count=0, visible_devices=None)
V100 = DeviceFacts(
    cuda_build="12.6", device_count=2, visible_devices="0,1", capabilities=((7, 0),) * 2
)
A100 = DeviceFacts(
    cuda_build="12.6", device_count=4, visible_devices="0,1,2,3", capabilities=((8, 0),) * 4
)
CPU_ONLY = pytest.mark.skipif(torch.version.cuda is not None, reason="needs a CPU-only torch build")


def test_a_job_that_asked_for_no_gpu_runs_anywhere():
    check_gpus("evaluate", 0, CPU_BUILD)
    require_gpus("evaluate", 0)  # this machine's torch, whatever it is


@CPU_ONLY
def test_a_gpu_job_in_a_cpu_only_torch_stops_at_once(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    with pytest.raises(DeviceError) as error:
        require_gpus("train_source", 1)
    assert str(error.value) == (
        "rule train_source asked for 1 GPU(s), but torch is a CPU-only build "
        "(torch.version.cuda is None; CUDA_VISIBLE_DEVICES=unset); run it in a CUDA build of "
        "torch (envs/training.yaml) or ask for 0 GPUs"
    )


def test_fewer_visible_gpus_than_asked_names_cuda_visible_devices():
    check_gpus("train_target", 2, V100)  # every rank of a launch sees the job's two GPUs
    with pytest.raises(
        DeviceError,
        match=r"rule train_target asked for 4 GPU\(s\), but the job sees 2 "
        r"\(CUDA_VISIBLE_DEVICES='0,1'\)",
    ):
        check_gpus("train_target", 4, V100)


def test_the_cli_checks_the_gpus_before_reading_the_spec(tmp_path):
    from xltransfer.cli.finetune import main

    asked = torch.cuda.device_count() + 1  # more than this machine has, with or without CUDA
    with pytest.raises(DeviceError, match=rf"rule train_source asked for {asked} GPU"):
        main(
            ["--spec", "{}", "--output", str(tmp_path), "--rule", "train_source"]
            + ["--gpus", str(asked)]
        )


@pytest.mark.parametrize(
    ("precision", "facts", "message"),
    [
        ("auto", A100, r"mixed_precision 'auto' reached the job unresolved"),
        ("fp16", CPU_BUILD, r"mixed_precision fp16 needs a GPU, and this job has none"),
        (
            "bf16",
            V100,
            r"mixed_precision bf16, but the job's GPUs \(compute capability 7\.0, 7\.0; "
            r"CUDA_VISIBLE_DEVICES='0,1'\) have no native bf16",
        ),
    ],
)
def test_a_precision_the_hardware_cannot_run_is_refused(precision, facts, message):
    with pytest.raises(DeviceError, match=message):
        check_precision(precision, facts)


@pytest.mark.parametrize(
    ("precision", "facts"),
    [("no", CPU_BUILD), ("no", V100), ("bf16", CPU_BUILD), ("bf16", A100), ("fp16", V100)],
)
def test_a_precision_the_hardware_runs_is_kept_as_it_is(precision, facts):
    assert check_precision(precision, facts) == precision


def test_the_training_job_refuses_before_it_builds_anything():
    import dataclasses

    from test_train import HP

    from xltransfer.training.loop import build_accelerator

    with pytest.raises(DeviceError, match="no native bf16"):
        build_accelerator(dataclasses.replace(HP, mixed_precision="bf16"), devices=V100)
