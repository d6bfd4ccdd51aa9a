"""``resdepth tables schemes``: S5, known schemes' effective lam at initialisation and S4 regime.

One row per scheme of :data:`theorems.schemes.SCHEMES`: the ``ModelConfig.scaling`` that
implements it in numerics, lam_eff(L) as a formula in the number of residual blocks L and the
constant a, its value at the chosen depths (``lam_eff_L<N>``), S4's exponent beta
(lam_eff ~ a L^-beta; ``oo`` for schemes that start at the identity; the formulas are SymPy
expressions, written as ``str`` in csv/json and by SymPy's LaTeX printer for people), the regime, whether S1's
bound stays bounded, the branch scale once trained (Fixup; null where a scheme fixes none), the
factor on the blocks' learning rate under SGD and Adam (``lr_sgd`` and ``lr_adam``: depth-muP's,
and 1 for the schemes that leave it alone) and the source.
"""

from resdepth.engine.errors import finite_nonnegative, positive_int
from resdepth.tables.formats import Table

NAME = "schemes"
HELP = "S5: effective branch scale at initialisation of SkipInit, ReZero, Fixup, DeepNorm, ..."
DEFAULT_DEPTHS = (8, 64, 512)


def add_arguments(parser) -> None:
    parser.add_argument("--a", type=finite_nonnegative, default=1.0, help="the constant a")
    parser.add_argument("--depths", type=positive_int, nargs="+", default=list(DEFAULT_DEPTHS),
                        metavar="L", help="numbers of residual blocks at which to evaluate")


def compute(a: float, depths) -> list[dict]:
    """The table's rows (see the module docstring)."""
    from theorems.schemes import SCHEMES, effective_lam

    rows = []
    for s in SCHEMES:
        row = {"scheme": s.name, "model_scaling": s.model_scaling, "lam_eff": s.lam_eff}
        row.update({f"lam_eff_L{n}": effective_lam(s.name, n, a) for n in depths})
        row.update({
            "beta": s.beta, "regime": s.regime, "s1_bounded": s.s1_bounded,
            "trained_scale": s.trained_scale, "lr_sgd": _factor(s.lr_sgd),
            "lr_adam": _factor(s.lr_adam),
            "source": s.source,
        })
        rows.append(row)
    return rows


def _factor(value):
    """A scheme's learning-rate factor: 1 where it sets none (written, never left blank)."""
    if value is not None:
        return value
    import sympy as sp

    return sp.Integer(1)


def build(args) -> Table:
    depths = sorted(set(args.depths))
    headers = {"model_scaling": "ModelConfig scaling", "lam_eff": r"$\lambda_{\mathrm{eff}}(L)$",
               "beta": r"$\beta$", "s1_bounded": "S1 bounded", "trained_scale": "trained scale",
               "lr_sgd": "block lr (SGD)", "lr_adam": "block lr (Adam)",
               **{f"lam_eff_L{n}": f"$L = {n}$" for n in depths}}
    caption = (r"S5: effective branch scale $\lambda_{\mathrm{eff}}(L)$ of known schemes at "
               rf"initialisation for $L$ residual blocks ($a = {args.a:g}$), S4's exponent "
               r"$\beta$ in $\lambda_{\mathrm{eff}} \sim a L^{-\beta}$ ($\infty$: the scheme "
               r"starts at the identity), the regime, whether S1's bound stays bounded, the "
               r"scale once trained (Fixup; empty where a scheme fixes none), and the factor on "
               r"the blocks' learning rate (depth-$\mu$P: 1 under SGD, $L^{-1/2}$ under Adam; 1 "
               r"for every other scheme).")
    return Table(compute(args.a, depths), caption=caption, label="tab:resdepth-schemes",
                 headers=headers)
