"""What a check returns, where checks are registered, and the context they run in.

A *check* probes one THEORY.md statement and compares the measurement with the prediction.
It is a function ``check(ctx: CheckContext) -> list[CheckResult]`` registered under its label
with :func:`register`; the same function serves the tests and ``resdepth validate``.

Verdicts: ``pass`` (the statement's test criterion holds), ``fail`` (it does not: the row
says by how much), ``diverged`` (a training run behind the check produced NaN/inf loss),
``skipped`` (the check could not run here, e.g. no GPU; the row says why).
"""

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("exact", "expectation", "bound", "empirical")
VERDICTS = ("pass", "fail", "diverged", "skipped")
LABELS = tuple(f"R{i}" for i in range(1, 6)) + tuple(f"S{i}" for i in range(1, 7)) + tuple(
    f"D{i}" for i in range(1, 6)
)


@dataclass(frozen=True)
class CheckResult:
    """One row of the validation report.

    ``prediction`` and ``measurement`` are numbers (or short JSON-able values) in the same
    units; ``statistic`` is what the verdict was decided on (relative error, z-score, slack
    of a bound, ...), described in ``claim``. ``plot`` is a file name relative to the report
    directory, or None.
    """

    label: str
    claim: str
    kind: str
    prediction: Any
    measurement: Any
    statistic: Any
    verdict: str
    plot: str | None = None

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"unknown THEORY.md label {self.label!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def as_dict(self) -> dict:
        """The row as a JSON-serialisable dict (keys in the order of results.json)."""
        row = asdict(self)
        json.dumps(row, allow_nan=True)
        return row


@dataclass(frozen=True)
class RunSpec:
    """A training run, keyed by everything that determines its numbers.

    ``model`` and ``train`` are the frozen configs of :mod:`numerics.config`; ``dataset``
    names a dataset of :mod:`numerics.data`; ``n_train`` overrides its training-set size.
    """

    model: Any
    dataset: str
    train: Any
    seed: int = 0
    n_train: int | None = None

    def key(self) -> str:
        """A stable text key: the same spec gives the same key in every process."""
        payload = {
            "model": asdict(self.model),
            "dataset": self.dataset,
            "train": asdict(self.train),
            "seed": self.seed,
            "n_train": self.n_train,
        }
        return json.dumps(payload, sort_keys=True, separators=(",", ":"))


Runner = Callable[[RunSpec, str], Any]


def train_locally(spec: RunSpec, device: str):
    """Train ``spec`` in this process with no caching; returns ``(model, TrainResult)``."""
    from numerics.train import train_from_config

    return train_from_config(
        spec.model, spec.dataset, spec.train, seed=spec.seed, device=device, n_train=spec.n_train
    )


@dataclass
class CheckContext:
    """Where a check runs: its budget (``quick``), device, base seed and output folder.

    ``runner`` trains a :class:`RunSpec` and returns ``(model, TrainResult)``;
    ``resdepth validate`` replaces the default with one that caches finished runs in
    ``results.sqlite`` so that an interrupted validation resumes where it stopped.
    """

    quick: bool = True
    device: str = "cpu"
    seed: int = 0
    out_dir: Path | None = None
    runner: Runner = field(default=train_locally)

    def trained(self, spec: RunSpec):
        """The trained model and its TrainResult for ``spec`` (trained or taken from cache)."""
        return self.runner(spec, self.device)

    def plot_path(self, name: str) -> Path | None:
        """Where a check writes the plot ``name``, or None when plots are not wanted."""
        if self.out_dir is None:
            return None
        self.out_dir.mkdir(parents=True, exist_ok=True)
        return self.out_dir / name


Check = Callable[[CheckContext], list[CheckResult]]
Needs = Callable[[CheckContext], list[RunSpec]]


@dataclass(frozen=True)
class Registered:
    """A registered check and the training runs it will ask ``ctx.trained`` for.

    ``needs(ctx)`` lists those runs up front, so a sweep can train them (in parallel, on Ray,
    resumably) before the check itself runs and finds them finished.
    """

    label: str
    check: Check
    needs: Needs | None = None

    def specs(self, ctx: CheckContext) -> list[RunSpec]:
        return [] if self.needs is None else list(self.needs(ctx))


REGISTRY: dict[str, list[Registered]] = {label: [] for label in LABELS}


def register(label: str, needs: Needs | None = None) -> Callable[[Check], Check]:
    """Decorator: register ``check`` under THEORY.md ``label`` (several checks per label allowed).

    ``needs(ctx) -> list[RunSpec]`` names the training runs the check uses, if any.
    """
    if label not in LABELS:
        raise ValueError(f"unknown THEORY.md label {label!r}")

    def decorate(check: Check) -> Check:
        REGISTRY[label].append(Registered(label, check, needs))
        return check

    return decorate


def verdict(ok: bool) -> str:
    """``pass`` when ``ok`` else ``fail``."""
    return "pass" if ok else "fail"
