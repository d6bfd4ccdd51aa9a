"""The depth-scaling experiment's grid (S7): rules, budgets, and the RunSpecs they expand into.

A **rule** is a way to scale (or normalise) the residual blocks of a depth-n tower:

=========  ==========================================================================
none       lam = 1, no normalisation (S2: E||x_n||^2 = 2^n ||x_0||^2 at initialisation)
inv-sqrt   lam = 1/sqrt(n) (S4's critical exponent)
inv        lam = 1/n (paper 1's proposal; S4's collapse regime)
tuned      lam = a/sqrt(n), the best a of :data:`TUNED_A` per depth by final training loss
learnable  SkipInit/ReZero: lam a parameter starting at 0
fixup      Fixup: zero last layers and classifier, scalar biases and multiplier
mup        depth-muP: lam = 1/sqrt(n), the blocks' learning rate x n^(-1/2) (AdamW)
pre-ln     x + f(LN x), lam = 1 (S3: linear growth)
batch      x + f(BN x), lam = 1 (paper 1's baseline)
=========  ==========================================================================

A **budget** fixes depths, seeds, width, data size and the training recipe. Every rule trains
with the same recipe (AdamW with a cosine schedule, :mod:`numerics.models.recipes`); depth-muP's base
learning rate is the recipe's times sqrt(:data:`MUP_BASE_DEPTH`), so that at depth 4 its blocks
train at the recipe's rate (depth-muP transfers a rate tuned at a small depth). The learning-rate
sweep of S7(f) trains depth-muP and constant lam = 1/sqrt(MUP_BASE_DEPTH) (the same model at
depth 4) over a grid of base rates at a few depths.

The mnist1d size: 1000 test signals give a binomial standard error of about 1.1 points per run
at 85% accuracy; every comparison is paired by seed (same data, same test set), and the effects
S7 predicts are 40-80 points ((a), (b)) or differences resolved by the CIs over seeds ((c)-(f)).
The full budget's 4000 training signals let a depth-4 MLP reach about 89% (the recipe's figure).
"""

from dataclasses import dataclass, field, replace

from numerics.models.config import ModelConfig
from resdepth.engine.registry import RunSpec

__all__ = ["BUDGETS", "DATASET_ARCH", "MAX_TRAIN", "MUP_BASE_DEPTH", "RULES", "SWEEP_RULES", "TUNED_A",
           "Budget", "Entry", "Plan", "Rule", "plan"]

MUP_BASE_DEPTH = 4
TUNED_A = (0.5, 1.0, 2.0, 4.0)
DATASET_ARCH = {"mnist1d": "mlp", "digits": "cnn"}
MAX_TRAIN = {"digits": 1437}
"""Training-set sizes a dataset cannot exceed (digits: 1797 images, 360 held out for testing)."""


@dataclass(frozen=True)
class Rule:
    """A rule of the grid: ``scaling``, ``norm`` and the constant ``a`` of ModelConfig."""

    name: str
    scaling: str
    norm: str = "none"
    description: str = ""

    @property
    def normalised(self) -> bool:
        return self.norm != "none"


RULES = {rule.name: rule for rule in (
    Rule("none", "constant", description="lam = 1, no normalisation"),
    Rule("inv-sqrt", "inv-sqrt", description="lam = 1/sqrt(n)"),
    Rule("inv", "inv", description="lam = 1/n"),
    Rule("tuned", "inv-sqrt", description="lam = a/sqrt(n), best a per depth"),
    Rule("learnable", "learnable", description="SkipInit/ReZero, lam from 0"),
    Rule("fixup", "fixup", description="Fixup"),
    Rule("mup", "mup", description="depth-muP, block lr x n^-1/2"),
    Rule("pre-ln", "constant", "pre", description="x + f(LN x)"),
    Rule("batch", "constant", "batch", description="x + f(BN x)"),
)}
SWEEP_RULES = {"mup": Rule("mup", "mup", description="depth-muP"),
               "constant": Rule("constant", "constant", description="lam = 1/2 at every depth")}
SWEEP_LAM = MUP_BASE_DEPTH ** -0.5


@dataclass(frozen=True)
class Budget:
    """Sizes of one run of the experiment (see :data:`BUDGETS`)."""

    depths: tuple[int, ...]
    seeds: int
    width: int
    n_train: int
    epochs: int
    batch_size: int
    lr: float
    sweep_depths: tuple[int, ...]
    sweep_lrs: tuple[float, ...]
    probe_n: int = 256
    spectrum_n: int = 32


BUDGETS = {
    "quick": Budget(depths=(16, 256), seeds=3, width=16, n_train=1000, epochs=6, batch_size=64,
                    lr=1e-2, sweep_depths=(4, 16), sweep_lrs=(3e-3, 1e-2, 3e-2, 1e-1, 3e-1),
                    probe_n=128, spectrum_n=16),
    "full": Budget(depths=(4, 16, 64, 256), seeds=3, width=32, n_train=4000, epochs=15,
                   batch_size=64, lr=1e-2, sweep_depths=(4, 16, 64),
                   sweep_lrs=(1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)),
}


@dataclass(frozen=True)
class Entry:
    """What one training run stands for in the grid: its rule, a, depth, seed, base lr, and
    whether it belongs to the main grid or to the learning-rate sweep."""

    rule: str
    a: float
    depth: int
    seed: int
    lr: float
    group: str = "grid"


@dataclass
class Plan:
    """The experiment's runs: ``specs`` by RunSpec key, and the grid entries each one serves
    (one run can serve several: tuned a = 1 is the inv-sqrt run)."""

    dataset: str
    budget: Budget
    rules: tuple[str, ...]
    specs: dict[str, RunSpec] = field(default_factory=dict)
    entries: dict[str, list[Entry]] = field(default_factory=dict)

    def add(self, spec: RunSpec, entry: Entry) -> None:
        key = spec.key()
        self.specs.setdefault(key, spec)
        self.entries.setdefault(key, []).append(entry)


def _spec(dataset: str, budget: Budget, rule: Rule, a: float, depth: int, seed: int,
          lr: float) -> RunSpec:
    from numerics.models.recipes import recipe_for

    cfg = ModelConfig(arch=DATASET_ARCH[dataset], depth=depth, width=budget.width,
                      norm=rule.norm, scaling=rule.scaling, lam=a)
    train = replace(recipe_for(cfg, dataset), epochs=budget.epochs,
                    batch_size=budget.batch_size, lr=lr)
    n_train = min(budget.n_train, MAX_TRAIN.get(dataset, budget.n_train))
    return RunSpec(model=cfg, dataset=dataset, train=train, seed=seed, n_train=n_train)


def plan(dataset: str, budget: Budget, rules=tuple(RULES), *, seed: int = 0,
         sweep: bool = True) -> Plan:
    """Every run of the grid (rules x depths x seeds, tuned over :data:`TUNED_A`) and, with
    ``sweep``, of the learning-rate sweep (S7(f)); seeds are ``seed .. seed + budget.seeds - 1``."""
    if dataset not in DATASET_ARCH:
        raise ValueError(f"dataset must be one of {', '.join(DATASET_ARCH)}, got {dataset!r}")
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise ValueError(f"unknown rules {unknown}; choose from {', '.join(RULES)}")
    result = Plan(dataset, budget, tuple(rules))
    seeds = range(seed, seed + budget.seeds)
    for name in rules:
        rule = RULES[name]
        for a in (TUNED_A if name == "tuned" else (1.0,)):
            for depth in budget.depths:
                lr = budget.lr * (MUP_BASE_DEPTH ** 0.5 if name == "mup" else 1.0)
                for s in seeds:
                    result.add(_spec(dataset, budget, rule, a, depth, s, lr),
                               Entry(name, a, depth, s, lr))
    if sweep:
        for name, rule in SWEEP_RULES.items():
            a = 1.0 if name == "mup" else SWEEP_LAM
            for depth in budget.sweep_depths:
                for lr in budget.sweep_lrs:
                    for s in seeds:
                        result.add(_spec(dataset, budget, rule, a, depth, s, lr),
                                   Entry(name, a, depth, s, lr, "sweep"))
    return result
