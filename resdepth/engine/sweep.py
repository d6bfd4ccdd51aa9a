"""Train a list of :class:`RunSpec` on a backend and hand back each run the moment it finishes.

A *backend* has ``run(specs, device, train) -> iterator of (spec, outcome)``, where ``outcome``
is the :class:`~resdepth.engine.store.TrainedRun` or the exception that training raised; runs arrive
in the order they finish, so the caller can commit each one to ``results.sqlite`` at once.

- :class:`LocalBackend` (default): ``workers == 1`` trains in this process, one run after
  another; ``workers > 1`` uses a ``ProcessPoolExecutor`` of spawned processes (a fork of a
  process whose torch thread pool has started can deadlock, and CUDA cannot be used after
  fork). Every run trains with :data:`TRAIN_THREADS` torch threads, so the stored weights, hence ``results.json``, do not depend on the backend or ``--workers``.
- :class:`RayBackend`: one Ray task per run, on the cluster at ``address`` or on a local Ray
  instance started here with ``workers`` CPUs. ``ray`` is imported only inside this backend
  (it is the optional ``resdepth[ray]`` extra).
"""

import concurrent.futures
import dataclasses
import functools
import multiprocessing
import time
from collections.abc import Callable, Iterator

from resdepth.engine.errors import ResdepthError
from resdepth.engine.registry import RunSpec
from resdepth.engine.store import TrainedRun, state_to_bytes

BACKENDS = ("local", "ray")
TRAIN_THREADS = 1  # the small models here gain little from more; fixed so weights are reproducible

Train = Callable[[RunSpec, str], TrainedRun]
Outcome = TrainedRun | BaseException


def train_run(spec: RunSpec, device: str) -> TrainedRun:
    """Train ``spec`` with :func:`numerics.models.train.train_from_config` and package the result.

    The run is ``diverged`` when its TrainResult says so (a non-finite loss); its weights and
    history are kept either way, since a check may want to look at a diverged run. Training
    uses :data:`TRAIN_THREADS` torch threads whatever the backend, so a run's weights do not
    depend on ``--workers`` (CPU reductions round differently with other thread counts).
    """
    import torch

    from numerics.models.train import train_from_config

    threads = torch.get_num_threads()
    torch.set_num_threads(TRAIN_THREADS)
    start = time.perf_counter()
    try:
        model, result = train_from_config(
            spec.model, spec.dataset, spec.train, seed=spec.seed, device=device,
            n_train=spec.n_train,
        )
    finally:
        torch.set_num_threads(threads)
    wall = time.perf_counter() - start
    in_dim, out_dim = _dims(spec.dataset, spec.seed, spec.n_train)
    return TrainedRun(
        key=spec.key(),
        status="diverged" if bool(result.diverged) else "finished",
        state=state_to_bytes(model.state_dict()),
        metrics=result_to_metrics(result),
        in_dim=in_dim,
        out_dim=out_dim,
        wall_time_s=wall,
    )


@functools.lru_cache(maxsize=32)
def _dims(dataset: str, seed: int, n_train: int | None) -> tuple[int, int]:
    from numerics.models.data import load_dataset

    data = load_dataset(dataset, seed=seed, n_train=n_train)
    return int(data.in_dim), int(data.out_dim)


def result_to_metrics(result) -> dict:
    """A TrainResult as a JSON-able dict of its fields (the device as text)."""
    if dataclasses.is_dataclass(result):
        fields = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    else:
        fields = dict(vars(result))
    return {name: _plain(value) for name, value in fields.items()}


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    return str(value)


def make_backend(name: str, *, workers: int = 1, address: str | None = None):
    """The backend ``name`` (one of :data:`BACKENDS`)."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if name == "local":
        if address is not None:
            raise ValueError("--address is only meaningful with --backend ray")
        return LocalBackend(workers)
    return RayBackend(workers, address)


class LocalBackend:
    """Local processes: in this process for one worker, a spawned process pool otherwise."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    def run(self, specs: list[RunSpec], device: str, train: Train = train_run
            ) -> Iterator[tuple[RunSpec, Outcome]]:
        if self.workers == 1:
            for spec in specs:
                yield spec, _attempt(train, spec, device)
            return
        pool = concurrent.futures.ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"),
        )
        try:
            futures = {pool.submit(_attempt, train, spec, device): spec for spec in specs}
            for future in concurrent.futures.as_completed(futures):
                yield futures[future], _future_outcome(future)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _attempt(train: Train, spec: RunSpec, device: str) -> Outcome:
    try:
        return train(spec, device)
    except Exception as exc:
        return exc


def _future_outcome(future) -> Outcome:
    try:
        return future.result()
    except Exception as exc:
        return exc


class RayBackend:
    """One Ray task per run; a local Ray instance unless ``address`` names a cluster."""

    def __init__(self, workers: int = 1, address: str | None = None) -> None:
        self.workers = workers
        self.address = address

    def run(self, specs: list[RunSpec], device: str, train: Train = train_run
            ) -> Iterator[tuple[RunSpec, Outcome]]:
        ray = _import_ray()
        started = self._connect(ray)
        task = ray.remote(num_cpus=1, num_gpus=1 if device == "cuda" else 0)(_attempt)
        pending = {task.remote(train, spec, device): spec for spec in specs}
        try:
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                spec = pending.pop(ref)
                yield spec, _ray_outcome(ray, ref)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            if started:
                ray.shutdown()

    def _connect(self, ray) -> bool:
        if ray.is_initialized():
            return False
        try:
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                ray.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=False)
        except ConnectionError as exc:
            raise ResdepthError(f"cannot reach the Ray cluster at {self.address!r}: {exc}") from None
        return True


def _ray_outcome(ray, ref) -> Outcome:
    try:
        return ray.get(ref)
    except Exception as exc:
        return exc


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ResdepthError(
            "--backend ray needs Ray, which is not installed: pip install 'resdepth[ray]'"
        ) from None
    return ray


def describe(spec: RunSpec) -> str:
    """A one-line name for ``spec`` (for progress bars and report rows)."""
    m = spec.model
    return (f"{m.arch} n={m.depth} d={m.width} {m.norm}/{m.scaling} a={m.lam:g} "
            f"on {spec.dataset} seed={spec.seed}")
