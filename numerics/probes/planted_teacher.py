r"""D2, D4, D5: a teacher-student family with a planted block: where the old model is, or is not, optimal.

From a trained post-LN model f_0 (depth L) and a scale s >= 0, :class:`PlantedTeacher` builds the
teacher

.. math::

    T_s = f_0 \text{ with a block inserted at } j,\ U = U_T,\ V = s V^*,\qquad
    y = T_s(x) + \sigma\varepsilon,\quad x \sim N(0, I_p),\ \varepsilon \sim N(0, 1),

U_T ~ N(0, 2/d) and V* a random direction of unit Frobenius norm, both drawn from the generator.

- s = 0: the teacher *is* the old model's function (the V = 0 insertion computes exactly the
  same floating-point operations as any other V = 0 insertion at j), so f_0 expanded at j is a
  population optimum of the expanded class: E[y | x] = f(x), the per-example gradient is
  -2 sigma eps_i df/dV with eps_i independent of x_i, and G_pop = 0 exactly.
- s > 0: in the teacher's own parametrisation (its U_T), the residual at f_0 is -J[s V*] + O(s^2)
  (J the output's derivative in V), so G_pop = -2 E[J^T J] s V* + O(s^2) and
  <G_pop, V*> = -2 s E||J[V*]||^2 + O(s^2) < 0: f_0 is not a population optimum of the expanded
  class and the first-order descent condition of D2 holds (proofs.md, D5). A new block with an
  independent U sees G_pop != 0 wherever that residual correlates with its own features
  (generically; D2's test measures it).

Samples are float64 on the old model's device (drawn by a CPU generator, so the same seed gives the
same numbers everywhere); :meth:`PlantedTeacher.dataset` packs float32 CPU train/test tensors as a
:class:`numerics.models.data.Dataset` for :func:`numerics.models.train.fit`.
"""

import copy
import math

import torch
from torch import nn
from torch.func import functional_call

from numerics.models.data import Dataset
from numerics.probes.expansion import insert_block, v_name

__all__ = ["PlantedTeacher"]


class PlantedTeacher:
    """The planted teacher T_s built from ``old`` (module docstring); draws from ``generator``."""

    def __init__(self, old: nn.Module, position: int, scale: float, *, noise_std: float,
                 generator: torch.Generator):
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale >= 0):
            raise ValueError(f"scale must be a finite number >= 0, got {scale!r}")
        if not (isinstance(noise_std, (int, float)) and math.isfinite(noise_std)
                and noise_std >= 0):
            raise ValueError(f"noise_std must be a finite number >= 0, got {noise_std!r}")
        self.old = copy.deepcopy(old).double().eval()
        self.device = next(self.old.parameters()).device
        self.position = position
        self.scale = float(scale)
        self.noise_std = float(noise_std)
        self.model = insert_block(self.old, position, generator=generator)
        shape = dict(self.model.named_parameters())[v_name(position)].shape
        direction = torch.randn(shape, generator=generator, dtype=torch.float64)
        self.v_teacher = (self.scale * direction / direction.norm()).to(self.device)
        self.in_dim = self.old.embed[0].in_features
        self.out_dim = self.old.head[0].out_features

    def teacher(self, x: torch.Tensor) -> torch.Tensor:
        """T_s(x), float64 on the teacher's device."""
        with torch.no_grad():
            return functional_call(self.model, {v_name(self.position): self.v_teacher},
                                   (x.to(device=self.device, dtype=torch.float64),))

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` fresh population samples (x, y) in float64."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        x = torch.randn(n, self.in_dim, generator=generator, dtype=torch.float64)
        noise = torch.randn(n, self.out_dim, generator=generator, dtype=torch.float64)
        x, noise = x.to(self.device), noise.to(self.device)
        return x, self.teacher(x) + self.noise_std * noise

    def dataset(self, n_train: int, n_test: int, generator: torch.Generator) -> Dataset:
        """Fresh train and test samples as a float32 regression :class:`Dataset`."""
        x, y = self.sample(n_train, generator)
        xt, yt = self.sample(n_test, generator)
        return Dataset(f"planted s={self.scale:g}", "regression", self.in_dim, self.out_dim,
                       *(t.float().cpu() for t in (x, y, xt, yt)))
