"""S7's pre-registered design (docs/S7_plan.md): grids, tuning budget and the runs they expand into.

The plan is fixed before the runs and its sha256 goes into results.json's meta
(:func:`plan_hash`). Every rule of :data:`DESIGN_RULES` (the unnormalised rules and the two
normalised baselines alike) gets the same tuning budget: the learning rates ``lrs`` of its grid
at every depth and seed, trained on ``NAME/val`` (a validation split carved from the training
set, :mod:`numerics.models.data`), so that every number the choice reads is a validation
number. A rule's chosen rate at a depth is the one with the highest mean final validation
accuracy over the seeds (diverged runs at chance); a choice at the grid's edge extends the grid
by one factor of ``LR_STEP`` in that direction, up to ``max_extensions`` times; past that the
cell is *censored*. The chosen configuration's trained models (the same seeds) are then scored
once on the test set (:mod:`resdepth.experiment.selection`).

Beside the tuning grid: the lam sweep of S7(e) (fixed lam = n^(-beta) for the seven beta of
:data:`LAM_BETAS`, 1/n to 1, no normalisation, at the rate inv-sqrt chose at that depth) and
the learning-rate sweep of S7(f) (depth-muP and constant lam = 1/2 over ``sweep_lrs`` at
``sweep_depths``, extended like the tuning grid until both optima are interior).
"""

import hashlib
import math
from dataclasses import dataclass, replace
from pathlib import Path

from numerics.models.config import ModelConfig, TrainConfig
from resdepth.engine.registry import RunSpec
from resdepth.experiment.grid import RULES, Rule

__all__ = ["DESIGN_BUDGETS", "DESIGN_RULES", "LAM_BETAS", "LR_STEP", "PLAN_PATH", "DesignBudget",
           "Run", "design_spec", "plan_hash"]

PLAN_PATH = Path(__file__).resolve().parents[2] / "docs" / "S7_plan.md"
DESIGN_RULES = ("none", "inv-sqrt", "inv", "learnable", "fixup", "mup", "pre-ln", "batch")
LAM_BETAS = (1.0, 5 / 6, 2 / 3, 1 / 2, 1 / 3, 1 / 6, 0.0)
"""S7(e)'s seven lam = n^(-beta): from 1/n (beta = 1) to 1 (beta = 0)."""
LR_STEP = 10 ** 0.5
SWEEP = {"mup": Rule("mup", "mup", description="depth-muP"),
         "constant": Rule("constant", "constant", description="lam = 1/2 at every depth")}
ARCH = {"mlp": "mlp", "resnet": "resnet"}


@dataclass(frozen=True)
class DesignBudget:
    """One grid of the pre-registered design (see docs/S7_plan.md for why these sizes)."""

    arch: str
    depths: tuple[int, ...]
    width: int
    n_train: int
    epochs: int
    lrs: tuple[float, ...]
    seeds: int
    batch_size: int = 64
    lam_depths: tuple[int, ...] = ()
    sweep_depths: tuple[int, ...] = ()
    sweep_lrs: tuple[float, ...] = ()
    max_extensions: int = 2
    n_test: int | None = None  # test images scored (None: the whole official test set)
    probe_n: int = 256
    spectrum_n: int = 32


_MLP_LRS = (1e-3, 3e-3, 1e-2, 3e-2)
DESIGN_BUDGETS = {
    ("mlp", "quick"): DesignBudget("mlp", (16, 112, 160), 16, 1000, 3, (3e-3, 1e-2, 3e-2), 5,
                                   lam_depths=(16,), sweep_depths=(4, 16),
                                   sweep_lrs=(3e-3, 1e-2, 3e-2), n_test=2000, probe_n=128,
                                   spectrum_n=16),
    ("mlp", "cpu"): DesignBudget("mlp", (16, 64, 112, 160), 32, 4000, 5, _MLP_LRS, 5,
                                 lam_depths=(16, 64), sweep_depths=(4, 16, 64),
                                 sweep_lrs=_MLP_LRS),
    ("mlp", "gpu"): DesignBudget("mlp", (16, 64, 112, 160, 512, 1024), 64, 50000, 10, _MLP_LRS,
                                 5, lam_depths=(16, 64, 256), sweep_depths=(4, 16, 64, 256),
                                 sweep_lrs=_MLP_LRS, batch_size=128),
    ("resnet", "quick"): DesignBudget("resnet", (1, 3), 4, 500, 2, (3e-3, 1e-2, 3e-2), 5,
                                      lam_depths=(1,), sweep_depths=(1, 3),
                                      sweep_lrs=(3e-3, 1e-2, 3e-2), n_test=2000, probe_n=64,
                                      spectrum_n=8),
    ("resnet", "cpu"): DesignBudget("resnet", (1, 3, 9), 4, 1000, 4, (3e-3, 1e-2, 3e-2), 5,
                                    lam_depths=(3,), sweep_depths=(1, 3),
                                    sweep_lrs=(3e-3, 1e-2, 3e-2), probe_n=64, spectrum_n=8),
    ("resnet", "gpu"): DesignBudget("resnet", (3, 9, 18, 42, 171), 16, 50000, 15, _MLP_LRS, 5,
                                    batch_size=128, lam_depths=(9, 42), sweep_depths=(3, 9, 42),
                                    sweep_lrs=_MLP_LRS, probe_n=128, spectrum_n=8),
}
"""(arch, grid) -> budget; depths are blocks (mlp) or blocks per stage (resnet: n = 3 depth)."""


def plan_hash(path: Path = PLAN_PATH) -> str:
    """sha256 of the pre-registration file (hex), or "absent" when it is missing."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"


@dataclass(frozen=True)
class Run:
    """What one training run stands for: rule, depth, seed, lr, group (tune | lam | sweep),
    and lam's beta for the lam sweep."""

    rule: str
    depth: int
    seed: int
    lr: float
    group: str = "tune"
    beta: float | None = None


def design_spec(dataset: str, budget: DesignBudget, run: Run) -> RunSpec:
    """The RunSpec of ``run``, always on ``dataset/val`` (validation numbers only)."""
    arch = ARCH[budget.arch]
    if run.group == "lam":
        depth_blocks = ModelConfig(arch=arch, depth=run.depth).n_blocks()
        cfg = ModelConfig(arch=arch, depth=run.depth, width=budget.width, scaling="constant",
                          lam=float(depth_blocks ** -run.beta))
    elif run.group == "sweep":
        rule = SWEEP[run.rule]
        lam = 1.0 if run.rule == "mup" else 0.5
        cfg = ModelConfig(arch=arch, depth=run.depth, width=budget.width, scaling=rule.scaling,
                          lam=lam)
    else:
        rule = RULES[run.rule]
        cfg = ModelConfig(arch=arch, depth=run.depth, width=budget.width, norm=rule.norm,
                          scaling=rule.scaling)
    stacked = arch == "mlp" and cfg.norm != "batch"
    train = TrainConfig(epochs=budget.epochs, batch_size=budget.batch_size, lr=run.lr,
                        engine="stacked" if stacked else "modules")
    return RunSpec(model=cfg, dataset=f"{dataset}/val", train=train, seed=run.seed,
                   n_train=budget.n_train)


def extend(lrs: tuple[float, ...], chosen: float) -> float | None:
    """The next rate past the grid's edge that ``chosen`` sits on (None if interior)."""
    low, high = min(lrs), max(lrs)
    if math.isclose(chosen, high):
        return high * LR_STEP
    if math.isclose(chosen, low):
        return low / LR_STEP
    return None


def with_seeds(budget: DesignBudget, seeds: int | None, depths=None) -> DesignBudget:
    """``budget`` with the seed count and depths a user asked for."""
    if seeds is not None:
        budget = replace(budget, seeds=seeds)
    if depths is not None:
        budget = replace(budget, depths=tuple(sorted(set(depths))))
    return budget
