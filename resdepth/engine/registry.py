"""What a check returns, where checks are registered, and the context they run in.

A *check* probes one THEORY.md statement and compares the measurement with the prediction.
It is a function ``check(ctx: CheckContext) -> list[CheckResult]`` registered under its label
with :func:`register`; the same function serves the tests and ``resdepth validate``.

Rows and their verdicts (pass, fail, inconclusive, diverged, skipped) are defined in
:mod:`resdepth.engine.rows`: a row carries the criterion and the power rule its verdict
follows from.
"""

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from resdepth.engine.rows import KINDS, LABELS, VERDICTS, CheckResult

__all__ = ["KINDS", "LABELS", "VERDICTS", "CheckContext", "CheckResult", "Registered",
           "RunSpec", "register", "train_locally"]

@dataclass(frozen=True)
class RunSpec:
    """A training run, keyed by everything that determines its numbers.

    ``model`` and ``train`` are the frozen configs of :mod:`numerics.models.config`; ``dataset``
    names a dataset of :mod:`numerics.models.data`; ``n_train`` overrides its training-set size.
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
    from numerics.models.train import train_from_config

    return train_from_config(
        spec.model, spec.dataset, spec.train, seed=spec.seed, device=device, n_train=spec.n_train
    )


@dataclass
class CheckContext:
    """Where a check runs: its budget (``quick``; False, the full budget, by default, as in
    :class:`resdepth.settings.Settings`), device, base seed and output folder.

    ``runner`` trains a :class:`RunSpec` and returns ``(model, TrainResult)``;
    ``resdepth validate`` replaces the default with one that caches finished runs in
    ``results.sqlite`` so that an interrupted validation resumes where it stopped.
    """

    quick: bool = False
    device: str = "cpu"
    seed: int = 0
    out_dir: Path | None = None
    runner: Runner = field(default=train_locally)

    @property
    def mode(self) -> str:
        """``"quick"`` or ``"full"``: the key of this context's budgets in :mod:`resdepth.engine.policy`."""
        return "quick" if self.quick else "full"

    def trained(self, spec: RunSpec):
        """The trained model and its TrainResult for ``spec`` (trained or taken from cache).

        The model comes back on this context's device, in eval mode, whatever device the
        runner trained it on.
        """
        model, result = self.runner(spec, self.device)
        return model.to(self.device).eval(), result

    def probe_model(self, model):
        """A float64 copy of ``model`` on this context's device, in eval mode: what probes use."""
        import copy

        import torch

        return copy.deepcopy(model).to(device=self.device, dtype=torch.float64).eval()

    def tensor(self, x):
        """``x`` as float64 on this context's device (data meets the probed model there)."""
        import torch

        return x.to(device=self.device, dtype=torch.float64)

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
    resumably) before the check itself runs and finds them finished. ``divergence_ok`` marks a
    check for which divergence is part of the prediction (lam = 1 at depth): it reads the runs'
    ``diverged`` flags itself, and validate adds no diverged row for them.
    """

    label: str
    check: Check
    needs: Needs | None = None
    divergence_ok: bool = False

    def specs(self, ctx: CheckContext) -> list[RunSpec]:
        return [] if self.needs is None else list(self.needs(ctx))


REGISTRY: dict[str, list[Registered]] = {label: [] for label in LABELS}


def register(label: str, needs: Needs | None = None, *, divergence_ok: bool = False
             ) -> Callable[[Check], Check]:
    """Decorator: register ``check`` under THEORY.md ``label`` (several checks per label allowed).

    ``needs(ctx) -> list[RunSpec]`` names the training runs the check uses, if any;
    ``divergence_ok`` as in :class:`Registered`.
    """
    if label not in LABELS:
        raise ValueError(f"unknown THEORY.md label {label!r}")

    def decorate(check: Check) -> Check:
        REGISTRY[label].append(Registered(label, check, needs, divergence_ok))
        return check

    return decorate

