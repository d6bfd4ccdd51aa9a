"""Checks that join theorems/, graphs/ and numerics/: one function per probe-and-compare.

The check modules import torch, SymPy and the libraries, so importing this package does not
import them: :func:`load_checks` does, and returns the filled :data:`REGISTRY`.
"""

import importlib

from resdepth.checks.base import (
    LABELS,
    REGISTRY,
    CheckContext,
    CheckResult,
    RunSpec,
    register,
    verdict,
)

MODULES = ("graph_counts", "probes", "expansion", "symbolic_paths", "scaling")



def load_checks() -> dict:
    """Import every check module in :data:`MODULES` (each registers its checks); the registry."""
    for name in MODULES:
        importlib.import_module(f"resdepth.checks.{name}")
    return REGISTRY


__all__ = ["LABELS", "REGISTRY", "CheckContext", "CheckResult", "RunSpec", "load_checks", "register", "verdict"]
