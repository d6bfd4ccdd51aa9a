"""``resdepth tables schemes``: S5, known schemes' effective lam at initialisation and S4 regime.

One row per scheme of :data:`theorems.schemes.SCHEMES`: the ``ModelConfig.scaling`` that
implements it in numerics, lam_eff(L) as a formula in the number of residual blocks L and the
constant a, its value at the chosen depths (``lam_eff_L<N>``), S4's exponent beta
(lam_eff ~ a L^-beta; ``oo`` for schemes that start at the identity), the regime, whether S1's
bound stays bounded, the branch scale once trained (Fixup) and the source.
"""

from resdepth.errors import finite_nonnegative, positive_int

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
        row = {"scheme": s.name, "model_scaling": s.model_scaling, "lam_eff": str(s.lam_eff)}
        row.update({f"lam_eff_L{n}": effective_lam(s.name, n, a) for n in depths})
        row.update({
            "beta": str(s.beta), "regime": s.regime, "s1_bounded": s.s1_bounded,
            "trained_scale": None if s.trained_scale is None else str(s.trained_scale),
            "source": s.source,
        })
        rows.append(row)
    return rows


def build(args) -> list[dict]:
    return compute(args.a, sorted(set(args.depths)))
