"""Sweep backends: every run comes back once, as it finishes, identical to training in-process."""

import pytest

from numerics.models.config import ModelConfig, TrainConfig
from resdepth.engine.errors import ResdepthError
from resdepth.engine.registry import LABELS, CheckResult, Registered, RunSpec
from resdepth.engine.rows import Criterion, count_power
from resdepth.engine.store import Store, state_from_bytes
from resdepth.engine.sweep import LocalBackend, describe, make_backend, train_run
from resdepth.validate import Settings, validate

TINY = TrainConfig(epochs=1, batch_size=64)


def specs(n: int) -> list[RunSpec]:
    return [RunSpec(ModelConfig(depth=2, width=8), "digits", TINY, seed=s, n_train=64)
            for s in range(n)]


def same_weights(a, b) -> bool:
    left, right = state_from_bytes(a.state), state_from_bytes(b.state)
    return left.keys() == right.keys() and all((left[k] == right[k]).all() for k in left)


def bad_train(spec, device):
    raise ValueError(f"cannot train seed {spec.seed}")


def test_in_process_backend_reports_a_raising_run_and_goes_on():
    outcomes = list(LocalBackend(1).run(specs(2), "cpu", bad_train))
    assert [spec.seed for spec, _ in outcomes] == [0, 1]
    assert all(isinstance(o, ValueError) for _, o in outcomes)


def test_process_pool_returns_every_run_once_with_in_process_weights():
    todo = specs(2)
    outcomes = {spec.key(): run for spec, run in LocalBackend(2).run(todo, "cpu")}
    assert set(outcomes) == {spec.key() for spec in todo}
    assert same_weights(outcomes[todo[1].key()], train_run(todo[1], "cpu"))


def test_backend_arguments_are_validated():
    with pytest.raises(ValueError, match="backend"):
        make_backend("slurm")
    with pytest.raises(ValueError, match="workers"):
        make_backend("local", workers=0)
    with pytest.raises(ValueError, match="address"):
        make_backend("local", address="10.0.0.1:6379")
    assert describe(specs(1)[0]) == "mlp n=2 d=8 none/constant a=1 on digits seed=0"


def test_ray_backend_without_ray_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ResdepthError, match=r"resdepth\[ray\]"):
        next(make_backend("ray").run(specs(1), "cpu"))


@pytest.mark.ray
def test_ray_local_instance_runs_a_tiny_sweep_into_the_store(tmp_path):
    ray = pytest.importorskip("ray")
    todo = specs(2)

    def check(ctx):
        models = [ctx.trained(spec)[0] for spec in todo]
        return [CheckResult("R5", "ray-trained models load", "exact", 2, len(models),
                            2 - len(models), Criterion("models missing", "==", 0),
                            count_power(2, "model"))]

    table = {label: [] for label in LABELS}
    table["R5"].append(Registered("R5", check, lambda ctx: todo))
    out = tmp_path / "out"
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        outcome = validate(Settings(out_dir=out, quick=True, device="cpu", backend="ray",
                                    only=("R5",), progress=False), table)
    finally:
        ray.shutdown()
    assert outcome.trained == 2 and outcome.exit_code == 0
    store = Store(out / "results.sqlite")
    try:
        assert same_weights(store.load_run(todo[0].key()), train_run(todo[0], "cpu"))
    finally:
        store.close()
