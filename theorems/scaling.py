r"""S4: the module scaling principle, lam_n = a n^{-beta}, proved with symbolic a and sigma^2.

Convention: a tower of depth n, x_i = x_{i-1} + lam_n f_i(x_{i-1}), every branch scaled by the
same lam_n = a n^{-beta}; S2's set-up (ReLU branches, no biases, zero-mean W2), c = a^2 sigma^2.

**S4 (exact limits).**

.. math::

    R_n(\beta) = \frac{\mathbb{E}\|x_n\|^2}{\|x_0\|^2} = \bigl(1 + a^2\sigma^2 n^{-2\beta}\bigr)^n
    \xrightarrow[n\to\infty]{}
    \begin{cases} \infty & \beta < 1/2, \\ e^{a^2\sigma^2} & \beta = 1/2, \\ 1 & \beta > 1/2 .
    \end{cases}

The mean path length n p, p = c n^{-2beta} / (1 + c n^{-2beta}), tends to oo, a^2 sigma^2 and 0
in the same three regimes (beta > 1/2: collapse to the identity). For beta = 1/2 the
path-length law Binomial(n, p) tends to Poisson(a^2 sigma^2), whatever the depth. S1's
worst-case bound (1 + a c n^{-beta})^n stays bounded iff beta >= 1.

Proof route for symbolic beta (no particular value): with t = c n^{-2 beta} >= 0,

.. math::

    \frac{t}{1+t} \le \log(1 + t) \le t
    \quad\Longrightarrow\quad
    \frac{c\, n^{1-2\beta}}{1 + c\, n^{-2\beta}} \le \log R_n \le c\, n^{1-2\beta},

and SymPy takes the limits of both sides with beta = 1/(2(1+s)) (s > 0, so 0 < beta < 1/2),
beta = 1/2 and beta = 1/2 + e (e > 0); for beta <= 0, R_n >= (1+c)^n -> oo.

>>> ratio_limit(sp.Rational(1, 2))
exp(a**2*sigma2)
>>> ratio_limit(sp.Rational(3, 4))
1
"""

import sympy as sp

__all__ = [
    "BETA",
    "BETAS",
    "SIGMA2",
    "A",
    "N",
    "binomial_pmf",
    "log_ratio_bounds",
    "mean_path_length",
    "mean_path_length_limit",
    "poisson_pmf_limit",
    "poisson_pmf_limit_general",
    "ratio",
    "ratio_limit",
    "regime",
    "regime_limits_symbolic",
    "s1_bound",
    "s1_bound_limit",
    "s1_bounded",
    "s1_regime_limits_symbolic",
]

N = sp.Symbol("n", integer=True, positive=True)
A = sp.Symbol("a", positive=True)
SIGMA2 = sp.Symbol("sigma2", positive=True)
BETA = sp.Symbol("beta", real=True)
#: The exponents the tables and tests cover.
BETAS = (sp.Integer(0), sp.Rational(1, 4), sp.Rational(1, 2), sp.Rational(3, 4), sp.Integer(1))

_C = A**2 * SIGMA2


def ratio(beta=BETA) -> sp.Expr:
    """S4: R_n = (1 + a^2 sigma^2 n^(-2 beta))^n."""
    return (1 + _C * N ** (-2 * beta)) ** N


def ratio_limit(beta) -> sp.Expr:
    """S4: lim_{n -> oo} R_n for a given (rational) beta, by ``sympy.limit``."""
    return sp.limit(ratio(sp.sympify(beta)), N, sp.oo)


def log_ratio_bounds(beta=BETA) -> tuple[sp.Expr, sp.Expr]:
    r"""S4: (lower, upper) with lower <= log R_n <= upper, from t/(1+t) <= log(1+t) <= t."""
    t = _C * N ** (-2 * beta)
    return N * t / (1 + t), N * t


def regime_limits_symbolic() -> dict[str, tuple[sp.Expr, sp.Expr]]:
    """S4 for symbolic beta in each regime: the limits of the (lower, upper) bounds on log R_n.

    Keys ``below`` (beta = 1/(2(1+s)), s > 0), ``critical`` (beta = 1/2), ``above``
    (beta = 1/2 + e, e > 0). Equal finite limits pin log R_n; an infinite lower limit sends
    R_n to oo.
    """
    s, e = sp.Symbol("s", positive=True), sp.Symbol("e", positive=True)
    cases = {"below": 1 / (2 * (1 + s)), "critical": sp.Rational(1, 2),
             "above": sp.Rational(1, 2) + e}
    return {name: tuple(sp.limit(b, N, sp.oo) for b in log_ratio_bounds(beta))
            for name, beta in cases.items()}


def mean_path_length(beta=BETA) -> sp.Expr:
    """S4: the mean path length n p with p = c n^(-2 beta) / (1 + c n^(-2 beta))."""
    t = _C * N ** (-2 * beta)
    return N * t / (1 + t)


def mean_path_length_limit(beta) -> sp.Expr:
    """S4: lim_{n -> oo} n p for a given beta."""
    return sp.limit(mean_path_length(sp.sympify(beta)), N, sp.oo)


def s1_bound(beta=BETA, c=None) -> sp.Expr:
    """S1 under S4's scaling: (1 + a c n^(-beta))^n (c = Lipschitz constant of the branches)."""
    c = sp.Symbol("c", positive=True) if c is None else c
    return (1 + A * c * N ** (-beta)) ** N


def s1_bound_limit(beta) -> sp.Expr:
    """lim_{n -> oo} of the S1 bound for a given beta: finite iff beta >= 1."""
    return sp.limit(s1_bound(sp.sympify(beta)), N, sp.oo)


def s1_regime_limits_symbolic() -> dict[str, tuple[sp.Expr, sp.Expr]]:
    """S1 for symbolic beta: limits of (lower, upper) bounds on log of (1 + a c n^-beta)^n.

    Keys ``below`` (beta = 1/(1+s), s > 0: 0 < beta < 1), ``critical`` (beta = 1), ``above``
    (beta = 1 + e, e > 0).
    """
    s, e = sp.Symbol("s", positive=True), sp.Symbol("e", positive=True)
    c = sp.Symbol("c", positive=True)
    cases = {"below": 1 / (1 + s), "critical": sp.Integer(1), "above": 1 + e}
    out = {}
    for name, beta in cases.items():
        t = A * c * N ** (-beta)
        out[name] = (sp.limit(N * t / (1 + t), N, sp.oo), sp.limit(N * t, N, sp.oo))
    return out


def binomial_pmf(k) -> sp.Expr:
    """S4, beta = 1/2: P(path length = k) = C(n, k) p^k (1 - p)^(n - k), p = q/(1+q), q = c/n."""
    q = _C / N
    p = q / (1 + q)
    return sp.binomial(N, k) * p**k * (1 - p) ** (N - k)


def poisson_pmf_limit(k: int) -> sp.Expr:
    """S4, beta = 1/2: lim_{n -> oo} of :func:`binomial_pmf` for a given k, by ``sympy.limit``.

    The pmf is taken in the equal form C(n, k) q^k (1 + q)^(-n) (since p = q/(1+q) and
    1 - p = 1/(1+q)) with C(n, k) expanded as a polynomial in n, which SymPy's limit handles
    quickly; the tests check that the two forms agree.
    """
    q = _C / N
    return sp.limit(sp.expand_func(sp.binomial(N, k)) * q**k * (1 + q) ** (-N), N, sp.oo)


def poisson_pmf_limit_general() -> sp.Expr:
    r"""S4, beta = 1/2, symbolic k >= 1: the Binomial(n, p) pmf tends to c^k e^{-c} / k!.

    With q = c/n, p = q/(1+q) and 1 - p = 1/(1+q), the pmf is
    (ff(n, k) / n^k) * (c^k / k!) * (1 + c/n)^{-n}; each factor has a finite limit (1, itself,
    e^{-c}), so the limit is their product.
    """
    k = sp.Symbol("k", integer=True, positive=True)
    falling = sp.limit(sp.ff(N, k) / N**k, N, sp.oo)
    damping = sp.limit((1 + _C / N) ** (-N), N, sp.oo)
    return falling * _C**k / sp.factorial(k) * damping


def regime(beta) -> str:
    """S4's regime of lam = a n^(-beta): ``explodes``, ``critical`` or ``collapses``."""
    beta = sp.sympify(beta)
    if beta is sp.oo or beta > sp.Rational(1, 2):
        return "collapses"
    return "critical" if beta == sp.Rational(1, 2) else "explodes"


def s1_bounded(beta) -> bool:
    """S1 under S4's scaling: the worst-case bound stays bounded in n iff beta >= 1."""
    beta = sp.sympify(beta)
    return bool(beta is sp.oo or beta >= 1)
