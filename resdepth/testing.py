"""Check the path decomposition of your own model in your own tests (THEORY.md R2, R4).

>>> import torch
>>> from torch import nn
>>> class Block(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.f = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 4))
...         self.ln = nn.LayerNorm(4)
...     def forward(self, x):
...         return self.ln(x + self.f(x))
>>> spectrum = assert_paths_sum(nn.Sequential(Block(), Block()), torch.randn(3, 4))
>>> spectrum.depth
2

With the pytest plugin (installed with resdepth, entry point ``resdepth``), a test file also
gets the fixtures ``residual_model`` (a factory of small residual models with inputs) and
``resdepth_strategies`` (the Hypothesis strategies of :mod:`resdepth.strategies`)::

    def test_my_model(residual_model):
        model, inputs = residual_model("resnet", seed=3)
        assert_paths_sum(model, inputs)
"""

import copy

__all__ = ["assert_paths_sum", "build_residual_model"]

KINDS = ("tower", "post-ln", "resnet", "bert", "gpt2", "vit")


def _split(inputs):
    import torch

    if isinstance(inputs, torch.Tensor):
        return (inputs,), {}
    if isinstance(inputs, dict):
        return (), dict(inputs)
    if isinstance(inputs, tuple | list):
        return tuple(inputs), {}
    raise TypeError(f"inputs must be a tensor, a tuple or a dict, got {type(inputs).__name__}")


def assert_paths_sum(model, inputs, *, rtol: float = 1e-10, output: str | None = None,
                     enumerate_up_to: int = 10):
    """Assert that ``model``'s output at ``inputs`` is the sum of its frozen-gate paths.

    The model is copied to float64 in eval mode (yours is left as it is); every gate is
    frozen at its value on ``inputs`` (ReLU masks, max-pool argmaxes, BatchNorm in eval mode,
    LayerNorm's 1/sigma, softmax patterns, GELU's Phi). Raises ``AssertionError`` when
    ||sum_k y_k - out|| / ||out|| exceeds ``rtol`` on some row, or when the O(n^2) spectrum
    differs from enumerating every path (models of at most ``enumerate_up_to`` blocks).
    Returns the :class:`numerics.probes.spectrum.Spectrum`.
    """
    import torch

    from numerics.real.frozen import enumerate_frozen_paths, frozen_spectrum, trace_model

    args, kwargs = _split(inputs)

    def f64(v):
        return v.to(torch.float64) if isinstance(v, torch.Tensor) and v.is_floating_point() else v

    args, kwargs = tuple(f64(a) for a in args), {k: f64(v) for k, v in kwargs.items()}
    traced = trace_model(copy.deepcopy(model).to(torch.float64).eval(), args, kwargs,
                         output=output)
    spectrum = frozen_spectrum(traced)
    error = spectrum.max_rel_error()
    assert error <= rtol, (f"the frozen-gate paths of {type(model).__name__} miss its output by "
                           f"{error:.3e} (relative) > rtol = {rtol:g}")
    if len(traced.blocks) <= enumerate_up_to:
        paths, lengths = enumerate_frozen_paths(traced)
        summed = torch.zeros_like(spectrum.terms).index_add_(0, lengths.to(paths.device), paths)
        gap = float((summed - spectrum.terms).flatten(1).norm(dim=1).max()
                    / spectrum.output.norm())
        assert gap <= rtol, f"the spectrum differs from the enumerated paths by {gap:.3e}"
    return spectrum


def build_residual_model(kind: str = "tower", *, depth: int = 2, width: int = 16,
                         seed: int = 0, batch: int = 4):
    """(model, inputs): a small float64 residual model of ``kind`` in :data:`KINDS`.

    ``tower`` and ``post-ln`` come from :func:`numerics.models.networks.build_model` (ReLU MLP towers,
    biases redrawn); ``resnet`` is a torchvision-style BasicBlock CNN; ``bert``, ``gpt2``,
    ``vit`` are transformers models built from tiny configs (needs the ``hf`` extra).
    """
    import torch

    from numerics.models.config import ModelConfig
    from numerics.models import zoo

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind in ("tower", "post-ln"):
        cfg = ModelConfig(depth=depth, width=width, norm="post" if kind == "post-ln" else "none")
        model = zoo.seeded_tower(seed, cfg, in_dim=width, out_dim=3, dtype=torch.float64)
        return model, (zoo.gaussian_inputs(seed, batch, width),)
    if kind == "resnet":
        return zoo.resnet_cnn((8,) * depth + (16,), seed=seed, batch=batch)
    return zoo.tiny_transformer(kind, layers=depth, hidden=width, seed=seed, batch=batch)
