"""The rounding floor of a path-length spectrum (R2): terms too small to be told from rounding.

R2 is the identity sum_k y_k = x_n. In floating point with unit epsilon eps (2^-52 in float64)
that identity, and every y_k the dynamic programme or the enumeration produces, is known only
to an absolute error of about

.. math::

    \\varphi_b = (n + 1)\\, \\varepsilon \\sum_{k=0}^{n} \\lVert y_k^{(b)} \\rVert

per input b: the n + 1 terms are added, and each block adds lam_i J~_i y_{k-1} into y_k through
frozen pieces whose offsets and subtractions (c_i = f_i(x) - D_i x, LayerNorm's mean) round
at the scale of the whole stream, not of the term. :func:`rounding_floor` reports phi as the
root mean square over the batch, the units of :meth:`Spectrum.norms_by_length`. A term whose
rms norm is below it (the exact zeros of flushed terms included) is **below the floor**: it is
smaller than the rounding of the sum it belongs to, so it is not a measurement, and two exact
methods may disagree on it by any factor (with LayerScale 1e-4 the DP and the enumeration of a
BERT differed 3x at k = 4, both at 1e-17 of the output). Reports write such a term as null
with :data:`REASON`; comparisons of the DP with the enumeration skip it, and say so.

>>> import torch
>>> from numerics.probes.spectrum import Spectrum
>>> terms = torch.tensor([[[1.0, 0.0]], [[0.5, 0.0]], [[1e-20, 0.0]]], dtype=torch.float64)
>>> s = Spectrum(terms, terms.sum(0))
>>> below_floor(s), f"{rounding_floor(s):.2e}"
([False, False, True], '9.99e-16')
"""

import torch

__all__ = ["REASON", "below_floor", "rounding_floor"]

REASON = ("below the rounding floor: (n + 1) eps sum_k ||y_k||, the float error of the "
          "decomposition sum_k y_k = x_n itself, so not a measurement")
"""Why a term is written as null (JSON) or marked (tables, plots)."""


def rounding_floor(spectrum) -> float:
    """phi of the module docstring: rms over the batch of (n + 1) eps sum_k ||y_k||."""
    terms = spectrum.terms
    eps = torch.finfo(terms.dtype).eps
    per_input = terms.flatten(2).norm(dim=2).sum(0) * (spectrum.depth + 1) * eps
    return float(per_input.pow(2).mean().sqrt())


def below_floor(spectrum) -> list[bool]:
    """For k = 0..n, whether rms ||y_k|| is below :func:`rounding_floor` (or exactly zero)."""
    floor = rounding_floor(spectrum)
    return [norm < floor or norm == 0.0 for norm in spectrum.norms_by_length()]
