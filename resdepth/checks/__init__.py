"""Checks that join theorems/, graphs/ and numerics/: one function per probe-and-compare.

The check modules import torch, SymPy and the libraries, so importing this package does not
import them: :func:`load_checks` imports the modules of the labels asked for (:data:`MODULES`)
and returns the filled :data:`REGISTRY`.
"""

import importlib

from resdepth.engine.registry import LABELS, REGISTRY, CheckContext, Registered, RunSpec, register
from resdepth.engine.rows import CheckResult, Criterion, Power

MODULES = {
    "graph_counts": ("R1", "R4"),
    "symbolic_paths": ("R1", "R3", "R4", "R5"),
    "r2": ("R2", "R5"),
    "lesion": ("R2",),
    "signal": ("S2", "S3"),
    "scaling": ("S1", "S4", "S5"),
    "capacity": ("S6",),
    "s7": ("S7",),
    "d1_d2": ("D1", "D2"),
    "d2_observability": ("D2",),
    "d3": ("D3",),
    "d4": ("D4",),
    "d5": ("D5",),
}
"""Each check module of ``resdepth.checks`` and the labels it registers checks for."""


def load_checks(labels: tuple[str, ...] = LABELS) -> dict:
    """Import the check modules that serve ``labels``; the registry.

    A module that fails to import registers, for each of its labels, a check that raises the
    import error, so the report shows a fail row naming it instead of the whole run stopping.
    """
    for name, served in MODULES.items():
        if not set(served) & set(labels):
            continue
        try:
            importlib.import_module(f"resdepth.checks.{name}")
        except Exception as exc:
            _register_import_error(name, served, exc)
    return REGISTRY


def _register_import_error(name: str, served: tuple[str, ...], exc: Exception) -> None:
    def check(ctx):
        raise ImportError(f"check module resdepth.checks.{name} failed to import: "
                          f"{type(exc).__name__}: {exc}")

    check.__module__, check.__qualname__ = f"resdepth.checks.{name}", "<import>"
    for label in served:
        if not any(r.check.__qualname__ == "<import>" and r.check.__module__ == check.__module__
                   for r in REGISTRY[label]):
            REGISTRY[label].append(Registered(label, check))


__all__ = ["LABELS", "MODULES", "REGISTRY", "CheckContext", "CheckResult", "Criterion", "Power",
           "RunSpec", "load_checks", "register"]
