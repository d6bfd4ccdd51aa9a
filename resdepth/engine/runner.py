"""``CheckContext.runner`` backed by ``results.sqlite``: trained models rebuilt from the store.

A resumed validation sees exactly the models a fresh one would: each run's stored state_dict
is loaded into a model rebuilt from its config (:func:`materialise`), in eval mode, on the
device the checks probe on.
"""

from resdepth.engine.registry import RunSpec
from resdepth.engine.store import Store, TrainedRun, state_from_bytes
from resdepth.engine.sweep import describe, train_run


class StoreRunner:
    """Returns ``(model, TrainResult)`` for a spec, from the store when it is there.

    A run the sweep did not train (a check asked for a spec it had not declared) is trained
    here and committed. ``used`` records the runs the current check asked for, ``undeclared``
    the runs trained here, per check name.
    """

    def __init__(self, store: Store, train=train_run, errors: dict | None = None) -> None:
        self.store = store
        self.train = train
        self.errors = {} if errors is None else errors
        self.used: dict[str, RunSpec] = {}
        self.current = ""
        self.undeclared: dict[str, int] = {}

    def __call__(self, spec: RunSpec, device: str):
        key = spec.key()
        self.used[key] = spec
        if key in self.errors:
            raise RuntimeError(f"training run {describe(spec)} failed: {self.errors[key]}")
        run = self.store.load_run(key)
        if run is None:
            run = self.train(spec, device)
            self.store.save_run(run)
            self.undeclared[self.current] = self.undeclared.get(self.current, 0) + 1
        return materialise(spec, run, device)

    def diverged(self) -> list[RunSpec]:
        """The runs used by the current check that are stored as diverged."""
        return [spec for key, spec in self.used.items()
                if (run := self.store.load_run(key)) is not None and run.status == "diverged"]


def materialise(spec: RunSpec, run: TrainedRun, device: str):
    """The stored run as ``(model, TrainResult)``: the model rebuilt, loaded, in eval mode."""
    from numerics.models.networks import build_model

    model = build_model(spec.model, run.in_dim, run.out_dim)
    model.load_state_dict(state_from_bytes(run.state))
    return model.to(device).eval(), result_from_metrics(run.metrics)


def result_from_metrics(metrics: dict):
    """The :class:`numerics.models.train.TrainResult` whose fields ``metrics`` holds."""
    from numerics.models.train import TrainResult

    return TrainResult(**metrics)
