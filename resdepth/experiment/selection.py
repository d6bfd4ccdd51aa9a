"""Choosing on validation numbers, then touching the test set once (S7's design, docs/S7_plan.md).

A *record* is one design run (:class:`resdepth.experiment.design.Run` fields) with its
validation outcome: ``val_acc`` (final accuracy on the validation split; chance 1/classes for a
diverged run), ``train_loss`` (final training loss, None if diverged), ``diverged`` and
``measurements``. Nothing in a record comes from the test set.

:func:`choose` picks, per (rule, depth), the rate with the highest mean ``val_acc`` over seeds
(ties: the lower mean training loss, then the smaller rate). :class:`TestGate` is the only way
to the test set: it refuses (:class:`TestTouched`) until :meth:`TestGate.unseal` receives the
choices, and then scores exactly the chosen configurations' trained models, each once.
"""

import math
from collections import defaultdict

__all__ = ["TestGate", "TestTouched", "choose", "mean_val", "sweep_best"]


class TestTouched(RuntimeError):
    """The test set was asked for before the choice it must not influence was made."""

    __test__ = False  # not a pytest class


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def mean_val(records, rule: str, depth: int, lr: float, group: str = "tune") -> float:
    """Mean final validation accuracy of one cell over its seeds."""
    return _mean(r["val_acc"] for r in records if r["group"] == group and r["rule"] == rule
                 and r["depth"] == depth and math.isclose(r["lr"], lr))


def _mean_loss(records, rule, depth, lr, group="tune") -> float:
    losses = [r["train_loss"] for r in records if r["group"] == group and r["rule"] == rule
              and r["depth"] == depth and math.isclose(r["lr"], lr)]
    return math.inf if any(v is None for v in losses) else _mean(losses)


def choose(records, rule: str, depth: int, group: str = "tune") -> float:
    """The chosen rate of ``rule`` at ``depth``: best mean validation accuracy (see above)."""
    lrs = sorted({r["lr"] for r in records if r["group"] == group and r["rule"] == rule
                  and r["depth"] == depth})
    if not lrs:
        raise ValueError(f"no {group} run of {rule} at depth {depth}")
    return max(lrs, key=lambda lr: (mean_val(records, rule, depth, lr, group),
                                    -_mean_loss(records, rule, depth, lr, group), -lr))


def sweep_best(records, rule: str, depth: int) -> tuple[float, dict[float, float]]:
    """S7(f): the sweep rate with the lowest mean final training loss (diverged: log 10 cap),
    and the mean loss per rate."""
    cap = math.log(10)
    by_lr = defaultdict(list)
    for r in records:
        if r["group"] == "sweep" and r["rule"] == rule and r["depth"] == depth:
            loss = r["train_loss"]
            by_lr[r["lr"]].append(cap if loss is None else min(loss, cap))
    means = {lr: _mean(v) for lr, v in sorted(by_lr.items())}
    return min(means, key=lambda lr: (means[lr], lr)), means


class TestGate:
    """The test set behind a gate: sealed until the choices are fixed, then each chosen
    configuration scored once.

    ``score(spec, run)`` is the function that evaluates a stored run's model on the test set
    (:func:`resdepth.experiment.tuned.score_on_test`); the gate calls it only after
    :meth:`unseal`, only for chosen (rule, depth, lr) cells, and at most once per run.
    """

    __test__ = False  # not a pytest class

    def __init__(self, score):
        self._score = score
        self.choices: dict | None = None
        self.scored: set[str] = set()

    def unseal(self, choices: dict) -> None:
        """Fix the choices ((rule, depth) -> lr); from here on the test set may be read."""
        if self.choices is not None:
            raise TestTouched("the choices were already fixed; the test set is read once")
        self.choices = dict(choices)

    def accuracy(self, rule: str, depth: int, lr: float, spec, run) -> float:
        """Test accuracy of the chosen configuration's run (``spec``, stored ``run``)."""
        if self.choices is None:
            raise TestTouched(f"test accuracy of {rule} at depth {depth} asked for before the "
                              f"learning rates were chosen on the validation split")
        if not math.isclose(self.choices.get((rule, depth), math.nan), lr):
            raise TestTouched(f"{rule} at depth {depth}, lr {lr:g}, is not the chosen "
                              f"configuration; only chosen configurations see the test set")
        key = spec.key()
        if key in self.scored:
            raise TestTouched(f"{rule} at depth {depth} seed {spec.seed} was already scored")
        self.scored.add(key)
        return self._score(spec, run)
