"""Probes run in float64 on one device, where trained models and data meet (issue 12 item 7).

A CPU-only machine has no second device that computes, so the test builds one: tensors on the
*fake accelerator* are CPU tensors wrapped in :class:`OnDevice`, which reports the device
``meta``; the dispatch mode :class:`FakeAccelerator` runs every operation on the wrapped values
and, like CUDA, raises when a tensor on the accelerator meets a CPU tensor of one or more
dimensions (0-dim CPU scalars are allowed, as CUDA allows them). ``resdepth validate --only
R2,S6 --quick`` then runs with its context's device set to ``meta``: the runner's trained models
live there, and a check that feeds them CPU data (the old bug: ``model.double()`` and
``data.test_x.double()``) raises and becomes a fail row. Forward-mode AD cannot run on the
wrapper (see :data:`FORWARD_AD`); the checks that need it touch no trained model. The R2 run is
in the default suite; R2 with S6 (minutes) is marked slow.

The ``gpu`` test runs the real thing, ``resdepth validate --quick --device cuda``.
"""

import dataclasses
import json
import subprocess
import sys

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

import numerics.device
from resdepth.engine.sweep import train_run
from resdepth.validate import Settings, validate

FAKE = torch.device("meta")


class OnDevice(torch.Tensor):
    """A tensor on the fake accelerator: a CPU tensor ``inner`` that reports device ``meta``."""

    @staticmethod
    def __new__(cls, inner):
        return torch.Tensor._make_wrapper_subclass(cls, inner.shape, strides=inner.stride(),
                                                   dtype=inner.dtype, device=FAKE,
                                                   requires_grad=inner.requires_grad)

    def __init__(self, inner):
        self.inner = inner

    def __tensor_flatten__(self):
        return ["inner"], None

    @staticmethod
    def __tensor_unflatten__(inner_tensors, ctx, outer_size, outer_stride):
        return OnDevice(inner_tensors["inner"])

    def __repr__(self):
        return f"OnDevice({self.inner!r})"

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func is torch.Tensor.tolist:  # a device tensor's tolist copies to the host
            return args[0].inner.tolist()
        with torch._C.DisableTorchFunctionSubclass():
            return func(*args, **(kwargs or {}))

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        raise RuntimeError(f"{func} on a fake-accelerator tensor outside FakeAccelerator")


def _unwrap(t):
    return t.inner if isinstance(t, OnDevice) else t


class FakeAccelerator(TorchDispatchMode):
    """Runs the operations of :class:`OnDevice` tensors on their CPU values (see module doc)."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        flat, _ = tree_flatten((args, kwargs))
        on_device = {id(t.inner): t for t in flat if isinstance(t, OnDevice)}
        device = kwargs.get("device")
        to_fake = device is not None and torch.device(device).type == FAKE.type
        if func is torch.ops.aten._to_copy.default and device is not None and not to_fake:
            return func(*tree_map(_unwrap, args), **kwargs)  # back to the host
        host = [t for t in flat if isinstance(t, torch.Tensor) and not isinstance(t, OnDevice)
                and t.dim() > 0]
        if on_device and host and func is not torch.ops.aten._to_copy.default:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at "
                               f"least two devices, {FAKE.type} and cpu! ({func})")
        if not (on_device or to_fake):
            return func(*args, **kwargs)
        if to_fake:
            kwargs["device"] = torch.device("cpu")
        out = func(*tree_map(_unwrap, args), **tree_map(_unwrap, kwargs))

        def wrap(t):
            if not isinstance(t, torch.Tensor):
                return t
            same = on_device.get(id(t))  # an in-place op returns its input
            return same if same is not None else OnDevice(t)

        return tree_map(wrap, out)


def test_fake_accelerator_raises_where_cuda_would():
    with FakeAccelerator():
        x = torch.ones(3).to(FAKE)
        assert x.device == FAKE and float((x * 2).sum()) == 6.0
        assert (x + torch.tensor(1.0)).tolist() == [2.0, 2.0, 2.0]  # a 0-dim CPU scalar is fine
        with pytest.raises(RuntimeError, match="same device"):
            x + torch.ones(3)
        assert torch.zeros(2, device=x.device).device == FAKE
        assert (x.to("cpu") + torch.ones(3)).device.type == "cpu"


def train_on_cpu(spec, device):
    """The runner's trainer: trains on the host, one short epoch (the test is about plumbing,
    not about what training reaches); stored under the spec's own key."""
    short = dataclasses.replace(spec, train=dataclasses.replace(spec.train, epochs=1))
    return dataclasses.replace(train_run(short, "cpu"), key=spec.key())


FORWARD_AD = {"r2_secant", "s6_tight_case", "r2_random_towers"}
"""Checks whose probes use forward-mode AD (secant quadrature, jacfwd, the generic route's JVPs),
which a Python wrapper tensor cannot carry; none touches a trained model. Every other R2 and S6
check runs (S6's length route uses reverse mode, so it runs here on trained models)."""


def _on_fake_device(tmp_path, monkeypatch, labels):
    """validate --only ``labels`` --quick with every trained model on the fake accelerator."""
    from resdepth.checks import load_checks

    registry = {label: [entry for entry in entries if entry.check.__name__ not in FORWARD_AD]
                for label, entries in load_checks(labels).items()}
    assert FORWARD_AD <= {e.check.__name__ for label in ("R2", "S6")
                          for e in load_checks(("R2", "S6"))[label]}
    monkeypatch.setattr(numerics.device, "choose_device", lambda request="auto": FAKE)
    settings = Settings(out_dir=tmp_path, quick=True, only=labels, progress=False)
    with FakeAccelerator():
        outcome = validate(settings, registry=registry, train=train_on_cpu)
    assert outcome.device == "meta"
    raised = [(row["claim"], row["reason"]) for row in outcome.rows
              if row["reason"] and "raised" in row["reason"]]
    assert not raised
    exact = [row for row in outcome.rows if row["kind"] == "exact"]
    assert exact and {row["verdict"] for row in exact} == {"pass"}
    assert {row["label"] for row in outcome.rows} == set(labels)
    return outcome


def test_R2_probes_meet_their_models_on_the_run_device(tmp_path, monkeypatch):
    outcome = _on_fake_device(tmp_path, monkeypatch, ("R2",))
    checks = {row["claim"] for row in outcome.rows}
    assert any("trained ReLU MLP" in claim for claim in checks)
    assert any("real lesion" in claim for claim in checks)


@pytest.mark.slow
def test_R2_S6_probes_meet_their_models_on_the_run_device(tmp_path, monkeypatch):
    """S6 trains three seeds per lam and searches inputs for a Jacobian norm: minutes."""
    _on_fake_device(tmp_path, monkeypatch, ("R2", "S6"))


@pytest.mark.gpu
def test_validate_quick_on_cuda_end_to_end(tmp_path):
    """``resdepth validate --quick --device cuda``: every check runs and none raises; the only
    failing rows are THEORY's statements measured false (issue 21: D2's "misalignment falls
    with width" along the model width d, D5 near the detection threshold)."""
    done = subprocess.run([sys.executable, "-m", "resdepth", "validate", "--quick", "--device",
                           "cuda", "--out", str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=1800)
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    rows = json.loads((tmp_path / "out" / "results.json").read_text())["rows"]
    assert json.loads((tmp_path / "out" / "results.json").read_text())["meta"]["device"] == "cuda"
    failed = [(row["label"], row["claim"], row["reason"]) for row in rows
              if row["verdict"] in ("fail", "diverged")]
    measured_false = [f for f in failed if f[0] in ("D2", "D5") and f[2] is None]
    assert failed == measured_false, failed
    assert done.returncode == (1 if failed else 0)
