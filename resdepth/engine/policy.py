"""Every tolerance and every quick/full budget of ``resdepth validate``, by THEORY.md label.

A check never writes a budget literal or branches on the mode itself: it reads
``policy.budget("D3", ctx.mode).n_sigma``. What "quick" means is decided here, once, and the
two modes differ only in these numbers (quick: under 5 minutes on 2 CPU cores; full: the
sizes the report's powers are quoted at).

>>> budget("R2", "quick").depths
(1, 5, 12)
>>> budget("R2", "full").depths
(1, 5, 12, 24, 40)
>>> budget("R2", "fast")
Traceback (most recent call last):
ValueError: mode must be 'quick' or 'full', got 'fast'

Tolerances are named once here too; the exact tolerance of resdepth's own towers is numerics'
:data:`numerics.probes.spectrum.EXACT_TOL` (1e-9), which the spectrum library states for its split
warning and ``resdepth.checks.towers`` reads.
"""

from collections.abc import Mapping

__all__ = ["BUDGETS", "EXACT_TOL_REAL", "MODES", "Z_MAX", "Budget", "budget"]

MODES = ("quick", "full")

Z_MAX = 5.0
"""|z| above which a Monte Carlo mean contradicts its prediction (THEORY.md: pass at |z| < 5)."""

EXACT_TOL_REAL = 1e-10
"""Relative tolerance of the float64 identities on traced real models (R2, R5; issue 13)."""


class Budget(Mapping):
    """A read-only mapping of one label's sizes in one mode, read as attributes too."""

    def __init__(self, sizes: dict) -> None:
        self._sizes = dict(sizes)

    def __getitem__(self, name: str):
        return self._sizes[name]

    def __iter__(self):
        return iter(self._sizes)

    def __len__(self) -> int:
        return len(self._sizes)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._sizes[name]
        except KeyError:
            raise AttributeError(f"no budget entry {name!r}; known: {sorted(self._sizes)}") from None


_R1_QUICK_DEPTHS = (1, 2, 3, 8, 64, 200)

D5_SCALES = (0.0, 0.1, 0.2, 0.4, 1.0)
"""D5's planted scales s (issue 21): s = 0 (the old model is the teacher), three small ones
toward the split test's detection threshold (D2's power row detects half of the time at
s = 0.166 with m ~ 33; D5's points have m = 256; each point's row reports the Stouffer z) and
s = 1; the full budget adds s = 2."""

BUDGETS: dict[str, dict[str, dict]] = {
    "R1": {
        "quick": {"symbolic_depths": (1, 4, 8, 12), "numeric_depths": (4, 8, 12),
                  "dag_depths": _R1_QUICK_DEPTHS},
        "full": {"symbolic_depths": tuple(range(1, 13)), "numeric_depths": (2, 4, 6, 8, 10, 12),
                 "dag_depths": _R1_QUICK_DEPTHS + (500, 1000)},
    },
    "R2": {
        "quick": {"depths": (1, 5, 12), "train_epochs": 3, "lesion_models": 5},
        "full": {"depths": (1, 5, 12, 24, 40), "train_epochs": 15, "lesion_models": 5},
    },
    "R3": {
        "quick": {"max_n": 4, "vector_cases": ((4, 2, 3), (3, 3, 3), (4, 2, 4)),
                  "exp_tower": (4, 5), "taylor_depths": (3, 4)},
        "full": {"max_n": 5, "vector_cases": ((4, 2, 3), (4, 3, 3), (4, 2, 4)),
                 "exp_tower": (6, 6), "taylor_depths": (2, 3, 4, 5)},
    },
    "R4": {
        "quick": {"tree_max": (5, 5), "closed_form_k": 3, "spec_n": 12, "traced_depth": 3,
                  "traced_cases": (("mlp", "none", 5), ("cnn", "pre", 16),
                                   ("transformer", "post", 7))},
        "full": {"tree_max": (7, 6), "closed_form_k": 5, "spec_n": 60, "traced_depth": 6,
                 "traced_cases": (("mlp", "none", 5), ("cnn", "pre", 16),
                                  ("transformer", "post", 7), ("mlp", "post", 5),
                                  ("mlp", "batch", 5), ("cnn", "none", 16),
                                  ("transformer", "pre", 7), ("transformer", "none", 7))},
    },
    "R5": {
        "quick": {"symbolic_n": 8, "chain_cases": ((2, 2),)},
        "full": {"symbolic_n": 12, "chain_cases": ((2, 2), (3, 2), (2, 3))},
    },
    "S1": {
        "quick": {"depths": (1, 3, 5), "steps": 60, "restarts": 8},
        "full": {"depths": (1, 3, 5, 8), "steps": 300, "restarts": 32},
    },
    "S2": {
        "quick": {"nets_scale": 1, "relu_widths": (8, 32)},
        "full": {"nets_scale": 10, "relu_widths": (4, 16, 64)},
    },
    "S4": {
        "quick": {"depths": (4, 16), "nets": 6000},
        "full": {"depths": (4, 16, 32), "nets": 40000},
    },
    "S5": {
        "quick": {"depth": 32, "width": 32, "seeds": 6},
        "full": {"depth": 64, "width": 64, "seeds": 16},
    },
    "S6": {
        "quick": {"lams": (0.25, 1.0), "seeds": 5},
        "full": {"lams": (0.1, 0.25, 0.5, 1.0), "seeds": 5},
    },
    "S7": {  # the pre-registered MLP quick grid (docs/S7_plan.md); rules None: all of the plan
        "quick": {"rules": ("none", "inv-sqrt", "inv"), "sweep": False, "lam": False,
                  "parts": "abc"},
        "full": {"rules": None, "sweep": True, "lam": True, "parts": "abcdef"},
    },
    "D1": {
        "quick": {"old_epochs": 4, "old_n": 256, "n_pop": 20000},
        "full": {"old_epochs": 20, "old_n": 512, "n_pop": 100000},
    },
    "D2": {
        "quick": {"null_m": 64, "null_reps": 400, "m50": 40, "power_reps": 200, "n_mom": 20000,
                  "mis_m": 32, "mis_reps": 300, "hiddens": (8, 32), "widths": (8, 16),
                  "n_deff": 4096, "models": 5},
        "full": {"null_m": 128, "null_reps": 1000, "m50": 80, "power_reps": 500, "n_mom": 100000,
                 "mis_m": 32, "mis_reps": 600, "hiddens": (8, 32, 128), "widths": (8, 16, 32),
                 "n_deff": 16384, "models": 5},
    },
    "D3": {
        "quick": {"n_sigma": 2000, "head_mc": 20000, "falsify": (1, 100)},
        "full": {"n_sigma": 20000, "head_mc": 200000, "falsify": (2, 400)},
    },
    "D4": {
        "quick": {"reps": 30, "n_pop": 100000, "n_pilot": 20000, "cap": 2**15,
                  "tight_reps": 6000, "tight_n_pop": 4000},
        "full": {"reps": 100, "n_pop": 200000, "n_pilot": 50000, "cap": 2**17,
                 "tight_reps": 12000, "tight_n_pop": 8000},
    },
    "D5": {
        "quick": {"seeds": 5, "points": tuple((2, 8, 256, s) for s in D5_SCALES), "extra": 5,
                  "n_test": 2048},
        "full": {"seeds": 5,
                 "points": tuple((*shape, s) for shape in ((2, 8, 256), (2, 8, 1024),
                                                           (2, 16, 256), (3, 8, 256))
                                 for s in D5_SCALES + (2.0,)),
                 "extra": 10, "n_test": 2048},
    },
}
"""label -> mode -> name -> size. ``models`` (D2), ``lesion_models`` (R2) and ``seeds`` (S6): independently trained
models behind an empirical row (THEORY.md: at least 5; distinct seeds in the training specs,
so each is its own stored run). S3 shares S2's Monte Carlo sizes; the overview plot of the
report (``signal_growth``) reads ``"overview"``."""

BUDGETS["overview"] = {
    "quick": {"depths": (1, 2, 4, 8, 16, 32), "nets": 400},
    "full": {"depths": (1, 2, 4, 8, 16, 32, 64), "nets": 2000},
}
for _modes in BUDGETS.values():
    assert set(_modes) == set(MODES) and set(_modes["quick"]) == set(_modes["full"]), _modes


def budget(label: str, mode: str) -> Budget:
    """The sizes of ``label``'s checks in ``mode`` (``"quick"`` or ``"full"``)."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'quick' or 'full', got {mode!r}")
    if label not in BUDGETS:
        raise KeyError(f"no budget for {label!r}; budgets exist for {sorted(BUDGETS)}")
    return Budget(BUDGETS[label][mode])
