"""A job's first check: the GPUs its rule asked for are there, and can run its precision.

A job that asked for GPUs but landed in a CPU-only torch build, or on a node that shows it
fewer devices, would otherwise train for hours on the CPU or fail deep inside Accelerate. The
checks read plain facts (`DeviceFacts`), so a test can state them instead of patching torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"
# Native bf16 arithmetic starts with compute capability 8.0 (Ampere: A100, A10, RTX 30xx).
# Older GPUs (V100 7.0, T4 7.5) only emulate it, which torch.cuda.is_bf16_supported() accepts.
BF16_MIN_CAPABILITY = 8
PRECISIONS = ("no", "bf16", "fp16")


class DeviceError(RuntimeError):
    """The job's hardware does not match what its rule asked for."""


@dataclass(frozen=True)
class DeviceFacts:
    """What a job's torch sees of its GPUs."""

    cuda_build: str | None  # torch.version.cuda: None in a CPU-only build
    device_count: int  # GPUs visible to the job
    visible_devices: str | None  # CUDA_VISIBLE_DEVICES as the scheduler left it (None: unset)
    capabilities: tuple[tuple[int, int], ...] = ()  # (major, minor) per visible GPU, if read

    @classmethod
    def from_torch(cls, read_capabilities: bool = False) -> DeviceFacts:
        """The facts of this process. Counting devices does not initialise CUDA; reading their
        capabilities does, so it is asked for only once the process group has set the device."""
        import torch

        count = torch.cuda.device_count()
        capabilities = ()
        if read_capabilities and count:
            capabilities = tuple(torch.cuda.get_device_capability(i) for i in range(count))
        return cls(torch.version.cuda, count, os.environ.get(VISIBLE_DEVICES), capabilities)

    @property
    def on_gpu(self) -> bool:
        return self.cuda_build is not None and self.device_count > 0

    @property
    def native_bf16(self) -> bool:
        """True when every visible GPU computes bf16 natively (capabilities must be read)."""
        return bool(self.capabilities) and all(
            major >= BF16_MIN_CAPABILITY for major, _ in self.capabilities
        )

    def describe_visible(self) -> str:
        shown = "unset" if self.visible_devices is None else repr(self.visible_devices)
        return f"{VISIBLE_DEVICES}={shown}"


def check_gpus(rule: str, asked: int, facts: DeviceFacts) -> None:
    """Raise DeviceError unless the job sees at least the GPUs its rule asked for.

    Every process of a single-node `accelerate launch` sees all of the job's GPUs (ranks pick
    theirs by LOCAL_RANK), so the count is the whole job's, not one rank's.
    """
    if asked <= 0:
        return
    if facts.cuda_build is None:
        raise DeviceError(
            f"rule {rule} asked for {asked} GPU(s), but torch is a CPU-only build "
            f"(torch.version.cuda is None; {facts.describe_visible()}); run it in a CUDA "
            "build of torch (envs/training.yaml) or ask for 0 GPUs"
        )
    if facts.device_count < asked:
        raise DeviceError(
            f"rule {rule} asked for {asked} GPU(s), but the job sees {facts.device_count} "
            f"({facts.describe_visible()}); check the job's GPU allocation (sbatch --gpus)"
        )


def require_gpus(rule: str, asked: int) -> None:
    """`check_gpus` on this process's torch: the first call of every job that may use GPUs."""
    check_gpus(rule, int(asked), DeviceFacts.from_torch())


def check_precision(precision: str, facts: DeviceFacts) -> str:
    """The run spec's precision, refused where this hardware cannot honour it.

    The precision is fixed for the whole grid when the DAG is built; a job never changes it,
    since Accelerate would otherwise train a CPU job asked for fp16 in full precision, or
    a V100 job asked for bf16 in emulation, and still record the precision it was given.
    """
    if precision not in PRECISIONS:
        raise DeviceError(
            f"mixed_precision {precision!r} reached the job unresolved; the workflow fixes "
            f"it to one of {list(PRECISIONS)} when the DAG is built"
        )
    if precision == "fp16" and not facts.on_gpu:
        raise DeviceError(
            "mixed_precision fp16 needs a GPU, and this job has none "
            f"({facts.describe_visible()}); use 'no' or 'bf16' on CPU"
        )
    if precision == "bf16" and facts.on_gpu and not facts.native_bf16:
        shown = ", ".join(f"{major}.{minor}" for major, minor in facts.capabilities)
        raise DeviceError(
            f"mixed_precision bf16, but the job's GPUs (compute capability {shown or 'unread'}; "
            f"{facts.describe_visible()}) have no native bf16 (needs "
            f"{BF16_MIN_CAPABILITY}.0 or newer); set training.gpu_bf16: false (auto then "
            "means no) or mixed_precision: no, or send the rule to bf16 GPUs (gpu_model in "
            "the profile's set-resources)"
        )
    return precision
