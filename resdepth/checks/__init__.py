"""Checks that join theorems/, graphs/ and numerics/: one function per probe-and-compare.

The check modules import torch, SymPy and the libraries, so importing this package does not
import them: :func:`load_checks` does, and returns the filled :data:`REGISTRY`.
"""

import importlib

from resdepth.checks.base import LABELS, REGISTRY, CheckContext, RunSpec, register
from resdepth.checks.rows import CheckResult, Criterion, Power

MODULES = ("graph_counts", "symbolic_paths", "r2", "signal", "scaling", "capacity", "expansion")


def load_checks() -> dict:
    """Import every check module in :data:`MODULES` (each registers its checks); the registry."""
    for name in MODULES:
        importlib.import_module(f"resdepth.checks.{name}")
    return REGISTRY


__all__ = ["LABELS", "REGISTRY", "CheckContext", "CheckResult", "Criterion", "Power", "RunSpec",
           "load_checks", "register"]
