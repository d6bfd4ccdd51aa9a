"""Checks that join theorems/, graphs/ and numerics/: one function per probe-and-compare.

Importing this package imports every check module, which fills :data:`REGISTRY`.
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

for _name in MODULES:
    importlib.import_module(f"resdepth.checks.{_name}")

__all__ = ["LABELS", "REGISTRY", "CheckContext", "CheckResult", "RunSpec", "register", "verdict"]
