"""Hypothesis strategies for residual architectures, weights and inputs (for your own tests).

Torch's random generator is not managed by Hypothesis, so weights and inputs are drawn as an
integer *seed* together with a frozen :class:`numerics.models.config.ModelConfig`; :func:`build_tower`
turns a ``(seed, config)`` draw into a model from a local ``torch.Generator`` (global random
state is never touched). Arguments are keyword-only and follow Hypothesis' naming
(``min_value``/``max_value``); impossible combinations raise ``InvalidArgument`` at once.

>>> from hypothesis import given
>>> @given(towers(max_depth=3, max_width=4))
... def test_tower_runs(draw):
...     seed, cfg = draw
...     model = build_tower(seed, cfg, in_dim=3, out_dim=2)
...     assert model(tower_inputs(seed, 5, 3)).shape == (5, 2)
>>> test_tower_runs()
"""

import math

import torch
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from numerics.models.config import ACTIVATIONS, NORMS, ModelConfig
from numerics.models.zoo import gaussian_inputs, seeded_tower

__all__ = [
    "activations",
    "build_tower",
    "depths",
    "norms",
    "scales",
    "seeds",
    "tower_configs",
    "tower_inputs",
    "towers",
    "widths",
]

SEED_MAX = 2**32 - 1


def _bounds(name: str, min_value, max_value, lowest) -> None:
    if min_value < lowest:
        raise InvalidArgument(f"{name}: min_value={min_value!r} must be >= {lowest}")
    if min_value > max_value:
        raise InvalidArgument(f"{name}: min_value={min_value!r} > max_value={max_value!r}")


def depths(*, min_value: int = 1, max_value: int = 12) -> st.SearchStrategy[int]:
    """Numbers of residual blocks n in [min_value, max_value]."""
    _bounds("depths", min_value, max_value, 1)
    return st.integers(min_value, max_value)


def widths(*, min_value: int = 1, max_value: int = 32) -> st.SearchStrategy[int]:
    """Stream widths d or hidden widths h in [min_value, max_value]."""
    _bounds("widths", min_value, max_value, 1)
    return st.integers(min_value, max_value)


def scales(*, min_value: float = 0.0, max_value: float = 2.0) -> st.SearchStrategy[float]:
    """Finite branch scales lam in [min_value, max_value] (no NaN, no infinity)."""
    if not (math.isfinite(min_value) and math.isfinite(max_value)):
        raise InvalidArgument(f"scales: bounds must be finite, got {min_value!r}, {max_value!r}")
    _bounds("scales", min_value, max_value, 0.0)
    return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False)


def seeds() -> st.SearchStrategy[int]:
    """Seeds for a local ``torch.Generator``."""
    return st.integers(0, SEED_MAX)


def activations(*, piecewise_linear: bool = False) -> st.SearchStrategy[str]:
    """Branch activations of :mod:`numerics.models.networks` (only "relu" if ``piecewise_linear``)."""
    return st.sampled_from(("relu",) if piecewise_linear else ACTIVATIONS)


def norms(*, allowed=NORMS) -> st.SearchStrategy[str]:
    """Normalisation placements, from ``allowed`` (a subset of numerics' NORMS)."""
    allowed = tuple(allowed)
    if not allowed or not set(allowed) <= set(NORMS):
        raise InvalidArgument(f"norms: allowed must be a non-empty subset of {NORMS}, got {allowed}")
    return st.sampled_from(allowed)


def tower_configs(*, min_depth: int = 1, max_depth: int = 8, min_width: int = 1,
                  max_width: int = 16, min_lam: float = 0.0, max_lam: float = 1.5,
                  piecewise_linear: bool = False, allowed_norms=("none",),
                  bias=None) -> st.SearchStrategy[ModelConfig]:
    """MLP :class:`ModelConfig` draws: depth, width, hidden width, lam, activation, bias, norm.

    ``bias=None`` draws it; ``True``/``False`` fixes it. The scaling is "constant", so each
    block's lam_i equals the drawn lam.
    """
    if bias not in (None, True, False):
        raise InvalidArgument(f"tower_configs: bias must be None, True or False, got {bias!r}")
    if min(min_width, max_width) < 2 and set(allowed_norms) - {"none"}:
        raise InvalidArgument("tower_configs: a normalised stream needs min_width >= 2")
    return st.builds(
        ModelConfig,
        arch=st.just("mlp"),
        depth=depths(min_value=min_depth, max_value=max_depth),
        width=widths(min_value=min_width, max_value=max_width),
        hidden=widths(min_value=min_width, max_value=max_width),
        norm=norms(allowed=allowed_norms),
        scaling=st.just("constant"),
        lam=scales(min_value=min_lam, max_value=max_lam),
        activation=activations(piecewise_linear=piecewise_linear),
        bias=st.booleans() if bias is None else st.just(bias),
    )


def towers(**kwargs) -> st.SearchStrategy[tuple[int, ModelConfig]]:
    """``(seed, config)`` pairs; ``kwargs`` go to :func:`tower_configs`."""
    return st.tuples(seeds(), tower_configs(**kwargs))


def build_tower(seed: int, cfg: ModelConfig, *, in_dim: int, out_dim: int,
                bias_std: float = 0.5, dtype=torch.float64):
    """The model of a ``(seed, cfg)`` draw: :func:`numerics.models.zoo.seeded_tower` (weights from
    ``torch.Generator().manual_seed(seed)``, biases redrawn N(0, bias_std^2), ``dtype``, eval
    mode, global random state untouched)."""
    return seeded_tower(seed, cfg, in_dim=in_dim, out_dim=out_dim, bias_std=bias_std,
                        dtype=dtype)


def tower_inputs(seed: int, batch: int, in_dim: int, *, scale: float = 1.0,
                 dtype=torch.float64) -> torch.Tensor:
    """A (batch, in_dim) Gaussian input batch: :func:`numerics.models.zoo.gaussian_inputs`."""
    return gaussian_inputs(seed, batch, in_dim, scale=scale, dtype=dtype)
