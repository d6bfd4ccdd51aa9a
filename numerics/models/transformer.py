"""The Transformer's parts: multi-head self-attention, token embedding, last-token head.

The Transformer of :func:`numerics.models.networks.build_model` is x_0 = E[tokens] + P (sinusoidal
positions; then LN for post-LN models), two residual blocks per layer (attention, then MLP), and
output = W_out LN?(x_n[:, -1]). All draws come from the caller's generator.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from numerics.models.layers import LN_EPS, default_generator, init_normal_

__all__ = ["LastTokenHead", "SelfAttention", "TokenEmbedding"]


class SelfAttention(nn.Module):
    """Multi-head self-attention (no mask): f(x) = W_o softmax(Q K^T / sqrt(d_head)) V.

    Shapes: x (B, T, d) -> (B, T, d); ``qkv`` is Linear(d, 3d), ``out`` Linear(d, d), all N(0, 1/d).
    """

    def __init__(self, d: int, heads: int, bias: bool = True, *,
                 generator: torch.Generator | None = None):
        super().__init__()
        if d % heads:
            raise ValueError(f"d must be divisible by heads, got d={d}, heads={heads}")
        generator = default_generator(generator)
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d, bias=bias)
        self.out = nn.Linear(d, d, bias=bias)
        init_normal_(self.qkv, math.sqrt(1.0 / d), generator)
        init_normal_(self.out, math.sqrt(1.0 / d), generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)  # (B, heads, T, d_head)
        return self.out(y.transpose(1, 2).reshape(b, t, d))

    def value_weights(self) -> torch.Tensor:
        """The rows of ``qkv.weight`` that produce V (a view: in-place edits change the layer)."""
        d = self.out.in_features
        return self.qkv.weight[2 * d:]


class TokenEmbedding(nn.Module):
    """x_0 = E[tokens] + P (fixed sinusoidal positions); then LN for post-LN models."""

    def __init__(self, vocab: int, d: int, post_ln: bool, *, generator: torch.Generator):
        super().__init__()
        self.tokens = nn.Embedding(vocab, d)
        with torch.no_grad():
            nn.init.normal_(self.tokens.weight, 0.0, 1.0, generator=generator)
        self.ln = nn.LayerNorm(d, eps=LN_EPS, elementwise_affine=False) if post_ln else None

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.tokens(tokens) + _sinusoid(tokens.shape[-1], self.tokens.embedding_dim,
                                            self.tokens.weight)
        return x if self.ln is None else self.ln(x)


def _sinusoid(t: int, d: int, like: torch.Tensor) -> torch.Tensor:
    """P[p, 2j] = sin(p w_j), P[p, 2j+1] = cos(p w_j), w_j = 10000^(-2j/d); shape (t, d)."""
    position = torch.arange(t, dtype=like.dtype, device=like.device)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, dtype=like.dtype, device=like.device)
                     * (-math.log(10000.0) / d))
    table = torch.zeros(t, d, dtype=like.dtype, device=like.device)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)[:, : d // 2]
    return table


class LastTokenHead(nn.Module):
    """output = W_out LN?(x_n[:, -1]): read the answer at the last position."""

    def __init__(self, d: int, out_dim: int, pre_ln: bool, bias: bool, *,
                 generator: torch.Generator):
        super().__init__()
        self.ln = nn.LayerNorm(d, eps=LN_EPS, elementwise_affine=False) if pre_ln else None
        self.linear = nn.Linear(d, out_dim, bias=bias)
        init_normal_(self.linear, math.sqrt(1.0 / d), generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, -1]
        return self.linear(x if self.ln is None else self.ln(x))
