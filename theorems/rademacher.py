r"""D3: Rademacher bounds for post-LN residual networks under norm control.

Class (the expanded model of D1 is one of its members, with L counting the new block):
h_0 = LN(E x), h_l = LN(h_{l-1} + V_l phi(U_l h_{l-1})) for l = 1..L, f(x) = W h_L, with
E in R^{d x p}, U_l in R^{h x d}, V_l in R^{d x h}, W in R^{k x d}; phi is 1-Lipschitz with
phi(0) = 0 (ReLU); LN(z) = (z - mean z) / sqrt(var z + eps) without affine parameters (var with
1/d, as torch); inputs ||x|| <= X. Norm budgets (Frobenius): ||W|| <= B, ||E|| <= beta_E,
||U_l|| <= beta_U, ||V_l|| <= beta_V.

**Head level (fixed features).** Since ||LN(z)||^2 = d var/(var + eps) <= d,

.. math::

    \mathbb{E}_\sigma \sup_{\|w\| \le B} \frac1m \sum_i \sigma_i\, w\cdot h_L(x_i)
    = \frac{B}{m}\, \mathbb{E}_\sigma \Bigl\|\sum_i \sigma_i h_L(x_i)\Bigr\|
    \le \frac{B}{m} \Bigl(\sum_i \|h_L(x_i)\|^2\Bigr)^{1/2} \le B\sqrt{d/m}.

This does NOT extend to the whole network: when the inner weights may depend on sigma,
sup ||sum_i sigma_i h_L(x_i)|| can reach m sqrt(d).

**Whole class (parameter covering).** LN_eps is 1/sqrt(eps)-Lipschitz on all of R^d (its
Jacobian sqrt(d)(I - y y^T/(|y|^2 + d eps)) P / sqrt(|y|^2 + d eps), y = P z, has norm at most
1/sqrt(eps)). With kappa = eps^{-1/2} and A = kappa (1 + beta_U beta_V), a change of one
parameter block moves every output by at most c_k times its Frobenius change:

=========  ==============================  ========  =========
block      c_k                             radius    entries
=========  ==============================  ========  =========
W          sqrt(d)                         B         k d
E          B kappa X A^L                   beta_E    d p
U_l        B kappa sqrt(d) beta_V A^(L-l)  beta_U    h d
V_l        B kappa sqrt(d) beta_U A^(L-l)  beta_V    d h
=========  ==============================  ========  =========

Covering each of the n_b = 2L + 2 blocks internally at radius eps'/(n_b c_k) gives a sup-norm
eps'-cover of the outputs with

.. math::

    \log N(\varepsilon') \le \sum_k P_k \log\Bigl(1 + \frac{2 n_b R_k c_k}{\varepsilon'}\Bigr),

and Massart's finite-class lemma (members bounded by B sqrt(d)) at eps' = B sqrt(d/m) gives,
for a scalar output (k = 1),

.. math::

    \mathfrak{R}_m(F) \le \min\Bigl\{B\sqrt d,\;
    B\sqrt{d/m}\,\Bigl(1 + \sqrt{2\log N(B\sqrt{d/m})}\Bigr)\Bigr\}.

For a loss l(f(x), y) in [0, M] that is L_l-Lipschitz in f (Euclidean), the same cover at
eps' = M/(L_l sqrt m) gives Rad_m(l o F) <= min{M/2, (M/sqrt m)(1 + sqrt(2 log N))}.
Lipschitz constants enter only inside the logarithm: the bound grows like
sqrt(P L log(1/eps) / m) in the number of parameters P, never exponentially in depth.

>>> head_rademacher_bound(100, 16, 2.0)
0.8
>>> c = NetworkClass(d=4, depth=1, hidden=4, in_dim=3, out_dim=1)
>>> rademacher_bound(c, 10) == 1.0 * 4 ** 0.5   # the trivial bound B sqrt(d) at tiny m
True
"""

import math
from dataclasses import dataclass

import sympy as sp

__all__ = [
    "BHEAD",
    "HEAD_BOUND",
    "D",
    "M",
    "NetworkClass",
    "covering_blocks",
    "head_rademacher_bound",
    "log_covering_expr",
    "log_covering_number",
    "loss_rademacher_bound",
    "rademacher_bound",
]

M = sp.Symbol("m", positive=True, integer=True)
D = sp.Symbol("d", positive=True, integer=True)
BHEAD = sp.Symbol("B", positive=True)
HEAD_BOUND = BHEAD * sp.sqrt(D / M)


def _require_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _require_positive(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


@dataclass(frozen=True)
class NetworkClass:
    """The post-LN class of D3: architecture (d, L, h, p, k) and norm budgets.

    ``head_norm`` B bounds ||W||_F, ``embed_norm`` ||E||_F, ``u_norm`` and ``v_norm`` every
    ||U_l||_F and ||V_l||_F, ``input_norm`` X every ||x||; ``ln_eps`` is LayerNorm's eps.
    """

    d: int
    depth: int
    hidden: int
    in_dim: int
    out_dim: int = 1
    head_norm: float = 1.0
    embed_norm: float = 1.0
    u_norm: float = 1.0
    v_norm: float = 1.0
    input_norm: float = 1.0
    ln_eps: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("d", "depth", "hidden", "in_dim", "out_dim"):
            _require_int(name, getattr(self, name), 1)
        for name in ("head_norm", "embed_norm", "u_norm", "v_norm", "input_norm", "ln_eps"):
            _require_positive(name, getattr(self, name))

    def n_params(self) -> int:
        """Number of weights P = k d + d p + 2 L h d."""
        return self.out_dim * self.d + self.d * self.in_dim + 2 * self.depth * self.hidden * self.d


def head_rademacher_bound(m: int, d: int, head_norm: float) -> float:
    """B sqrt(d/m): the head-level bound of D3 (features of norm <= sqrt(d))."""
    _require_int("m", m, 1)
    _require_int("d", d, 1)
    _require_positive("head_norm", head_norm)
    return head_norm * math.sqrt(d / m)


def covering_blocks(cls: NetworkClass) -> list[tuple[str, float, float, int]]:
    """Rows (block, log c_k, radius R_k, entries P_k) of the covering argument (table above)."""
    log_kappa = -0.5 * math.log(cls.ln_eps)
    log_a = log_kappa + math.log1p(cls.u_norm * cls.v_norm)
    log_front = math.log(cls.head_norm) + log_kappa
    half_log_d = 0.5 * math.log(cls.d)
    rows = [
        ("W", half_log_d, cls.head_norm, cls.out_dim * cls.d),
        ("E", log_front + math.log(cls.input_norm) + cls.depth * log_a, cls.embed_norm,
         cls.d * cls.in_dim),
    ]
    for layer in range(1, cls.depth + 1):
        tail = (cls.depth - layer) * log_a + log_front + half_log_d
        rows.append((f"U{layer}", tail + math.log(cls.v_norm), cls.u_norm, cls.hidden * cls.d))
        rows.append((f"V{layer}", tail + math.log(cls.u_norm), cls.v_norm, cls.d * cls.hidden))
    return rows


def log_covering_number(cls: NetworkClass, scale: float) -> float:
    """log N(scale) <= sum_k P_k log(1 + 2 n_b R_k c_k / scale), computed in log space."""
    _require_positive("scale", scale)
    blocks = covering_blocks(cls)
    log_nb2 = math.log(2 * len(blocks))
    total = 0.0
    for _, log_c, radius, entries in blocks:
        x = log_nb2 + math.log(radius) + log_c - math.log(scale)
        total += entries * (x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x)))
    return total


def log_covering_expr(depth: int) -> sp.Expr:
    """The log-covering bound as a SymPy expression in m-free symbols (scale ``eps_c``).

    Symbols: d, h, p, k, B, beta_E, beta_U, beta_V, X, eps (LayerNorm), eps_c (cover scale).
    """
    _require_int("depth", depth, 1)
    d, h, p, k = sp.symbols("d h p k", positive=True, integer=True)
    b, be, bu, bv, x, eps, scale = sp.symbols(
        "B beta_E beta_U beta_V X eps eps_c", positive=True
    )
    kappa = 1 / sp.sqrt(eps)
    a = kappa * (1 + bu * bv)
    nb = 2 * depth + 2
    terms = [
        k * d * sp.log(1 + 2 * nb * b * sp.sqrt(d) / scale),
        d * p * sp.log(1 + 2 * nb * be * b * kappa * x * a**depth / scale),
    ]
    for layer in range(1, depth + 1):
        front = b * kappa * sp.sqrt(d) * a ** (depth - layer)
        terms.append(h * d * sp.log(1 + 2 * nb * bu * front * bv / scale))
        terms.append(d * h * sp.log(1 + 2 * nb * bv * front * bu / scale))
    return sp.Add(*terms)


def rademacher_bound(cls: NetworkClass, m: int) -> float:
    """D3 for the whole class, scalar output: min{B sqrt d, B sqrt(d/m)(1 + sqrt(2 log N))}."""
    _require_int("m", m, 1)
    if cls.out_dim != 1:
        raise ValueError(f"out_dim must be 1 for the output-class bound, got {cls.out_dim}")
    head = head_rademacher_bound(m, cls.d, cls.head_norm)
    covering = head * (1 + math.sqrt(2 * log_covering_number(cls, head)))
    return min(cls.head_norm * math.sqrt(cls.d), covering)


def loss_rademacher_bound(
    cls: NetworkClass, m: int, loss_bound: float, loss_lipschitz: float
) -> float:
    """Rad_m(l o F) <= min{M/2, (M/sqrt m)(1 + sqrt(2 log N(M/(L_l sqrt m))))}, any out_dim."""
    _require_int("m", m, 1)
    _require_positive("loss_bound", loss_bound)
    _require_positive("loss_lipschitz", loss_lipschitz)
    scale = loss_bound / (loss_lipschitz * math.sqrt(m))
    covering = loss_bound / math.sqrt(m) * (1 + math.sqrt(2 * log_covering_number(cls, scale)))
    return min(loss_bound / 2, covering)
