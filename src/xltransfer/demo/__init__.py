"""Deterministic synthetic multilingual benchmark mirroring Hugging Face Hub dataset layouts."""

from xltransfer.demo.build import build_benchmark
from xltransfer.demo.languages import derive_language, english, realised_overlap, translate

__all__ = ["build_benchmark", "derive_language", "english", "realised_overlap", "translate"]
