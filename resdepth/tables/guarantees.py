"""``resdepth tables guarantees``: D3's Rademacher bounds and D4's two test-risk guarantees.

One row per sample size m. Every row carries its parameters as keys (``delta``, ``B``, ``d``,
``L``, ``width`` (branch hidden width h), ``in_dim``, ``out_dim``, the norm budgets, ``ln_eps``,
``loss_bound`` M, ``loss_lipschitz``, ``margin`` Delta, and the restricted class's ``q``,
``beta``, ``lam``) and the figures, all numbers (null where none exists):

- whole class (D3(b)): ``head_bound`` B sqrt(d/m), ``class_bound`` (scalar output),
  ``route_p_slack`` and ``route_e_slack`` (D4's s_P and s_E), and the least sample sizes at which
  each certifies Delta, ``m_route_p`` and ``m_route_e`` (bisection; null beyond 10^18), and
  ``m_route_p_head`` (closed form for a trained head on fixed features);
- restricted class (the inserted block's V in a ball of radius beta, the rest fixed; D4):
  ``restricted_rademacher`` sqrt(2)|lam| beta sqrt(d) q / sqrt(m), the data-dependent slacks
  ``restricted_p_slack`` and ``restricted_e_slack``, and ``m_restricted_p``, ``m_restricted_e``
  (closed form m = floor((K/Delta)^2) + 1). q is the rms over the sample of c_i ||a_i|| (loss
  Lipschitz constant on the ball times the new block's feature norm): ``resdepth validate --only
  D4`` reports the measured q and the command that tabulates it.
"""

from resdepth.engine.errors import finite_positive, positive_int
from resdepth.tables.formats import Table

NAME = "guarantees"
HELP = "D3/D4: Rademacher bounds, test-risk slacks and certifying sample sizes per m"
DEFAULT_MS = (100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000)
HEADERS = {  # what people see (md, latex); constant columns move into the caption
    "delta": r"$\delta$", "B": "$B$", "d": "$d$", "L": "$L$", "width": "$h$", "in_dim": "$p$",
    "out_dim": "outputs $k$", "embed_norm": r"$\lVert E\rVert_F$",
    "u_norm": r"$\lVert U_l\rVert_F$", "v_norm": r"$\lVert V_l\rVert_F$",
    "input_norm": "input norm $X$", "ln_eps": r"LayerNorm $\epsilon$",
    "loss_bound": "loss bound $M$", "loss_lipschitz": "loss Lipschitz constant",
    "margin": r"$\Delta$", "q": "$q$", "beta": r"$\beta$", "lam": r"$\lvert\lambda\rvert$",
    "m": "$m$", "head_bound": r"$B\sqrt{d/m}$", "class_bound": "D3 class bound",
    "route_p_slack": "$s_P$", "route_e_slack": "$s_E$",
    "restricted_rademacher": "restricted Rademacher", "restricted_p_slack": "restricted $s_P$",
    "restricted_e_slack": "restricted $s_E$", "m_route_p": "least $m$, route P",
    "m_route_e": "least $m$, route E", "m_route_p_head": "least $m$, route P (head)",
    "m_restricted_p": "least $m$, restricted P", "m_restricted_e": "least $m$, restricted E",
}
CAPTION = (r"D3/D4: Rademacher bounds of the head ($B\sqrt{d/m}$) and of the whole post-LN "
           r"class (D3), D4's test-risk slacks $s_P$ and $s_E$ at $m$ samples with confidence "
           r"$1 - \delta$ for the whole class and for the restricted class (the inserted "
           r"block's $V$ in a ball of radius $\beta$), and the least sample sizes at which each "
           r"route certifies the improvement $\Delta$.")


def _probability(text: str) -> float:
    value = finite_positive(text)
    if value >= 1:
        import argparse

        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {value}")
    return value


def add_arguments(parser) -> None:
    parser.add_argument("--delta", type=_probability, default=0.05, help="confidence 1 - delta")
    parser.add_argument("--B", dest="head_norm", type=finite_positive, default=1.0,
                        help="head budget ||W_out||_F <= B")
    parser.add_argument("--d", type=positive_int, default=16, help="residual width d")
    parser.add_argument("--L", type=positive_int, default=4, help="blocks of the expanded model")
    parser.add_argument("--width", type=positive_int, default=16, help="branch hidden width h")
    parser.add_argument("--in-dim", type=positive_int, default=16, help="input dimension p")
    parser.add_argument("--out-dim", type=positive_int, default=1, help="outputs k")
    parser.add_argument("--embed-norm", type=finite_positive, default=4.0, help="||E||_F budget")
    parser.add_argument("--u-norm", type=finite_positive, default=4.0, help="||U_l||_F budget")
    parser.add_argument("--v-norm", type=finite_positive, default=4.0, help="||V_l||_F budget")
    parser.add_argument("--input-norm", type=finite_positive, default=12.0, help="||x|| <= X")
    parser.add_argument("--ln-eps", type=finite_positive, default=1e-5, help="LayerNorm eps")
    parser.add_argument("--loss-bound", type=finite_positive, default=4.0, help="loss in [0, M]")
    parser.add_argument("--loss-lipschitz", type=finite_positive, default=4.0,
                        help="Lipschitz constant of the loss in the output (whole class)")
    parser.add_argument("--margin", type=finite_positive, default=0.05,
                        help="improvement Delta to certify")
    parser.add_argument("--q", type=finite_positive, default=3.5,
                        help="restricted class: rms of c_i ||a_i|| on the sample")
    parser.add_argument("--beta", type=finite_positive, default=0.1,
                        help="restricted class: radius of the ball of the new block's V")
    parser.add_argument("--lam", type=finite_positive, default=1.0,
                        help="restricted class: the new block's branch scale |lam|")
    parser.add_argument("--m", type=positive_int, nargs="+", default=list(DEFAULT_MS),
                        help="sample sizes (one row each)")


def _whole_class(args, loss: dict) -> tuple:
    from theorems.guarantees import (
        certifying_sample_size,
        head_level_sample_size,
        route_e_slack,
        route_p_slack,
    )
    from theorems.rademacher import NetworkClass

    cls = NetworkClass(
        d=args.d, depth=args.L, hidden=args.width, in_dim=args.in_dim, out_dim=args.out_dim,
        head_norm=args.head_norm, embed_norm=args.embed_norm, u_norm=args.u_norm,
        v_norm=args.v_norm, input_norm=args.input_norm, ln_eps=args.ln_eps,
    )
    sizes = {
        "m_route_p": certifying_sample_size(
            lambda m: route_p_slack(cls, m, args.delta, **loss), args.margin),
        "m_route_e": certifying_sample_size(
            lambda m: route_e_slack(cls, m, args.delta, **loss), args.margin),
        "m_route_p_head": head_level_sample_size(args.margin, args.delta, d=args.d,
                                                 head_norm=args.head_norm, **loss),
    }
    return cls, sizes


def compute(args) -> list[dict]:
    """The table's rows (see the module docstring)."""
    from theorems.guarantees import (
        restricted_rademacher,
        restricted_route_e_slack,
        restricted_route_p_slack,
        restricted_sample_size,
        route_e_slack,
        route_p_slack,
    )
    from theorems.rademacher import head_rademacher_bound, rademacher_bound

    loss = {"loss_bound": args.loss_bound, "loss_lipschitz": args.loss_lipschitz}
    cls, sizes = _whole_class(args, loss)
    restricted = {"q": args.q, "beta": args.beta, "lam": args.lam, "d": args.d}
    for route in ("P", "E"):
        sizes[f"m_restricted_{route.lower()}"] = restricted_sample_size(
            route, args.margin, args.delta, loss_bound=args.loss_bound, **restricted)
    params = {
        "delta": args.delta, "B": args.head_norm, "d": args.d, "L": args.L, "width": args.width,
        "in_dim": args.in_dim, "out_dim": args.out_dim, "embed_norm": args.embed_norm,
        "u_norm": args.u_norm, "v_norm": args.v_norm, "input_norm": args.input_norm,
        "ln_eps": args.ln_eps, **loss, "margin": args.margin, "q": args.q, "beta": args.beta,
        "lam": args.lam,
    }
    rows = []
    for m in args.m:
        rad = restricted_rademacher(args.q, m, beta=args.beta, lam=args.lam, d=args.d)
        rows.append({
            **params, "m": m,
            "head_bound": head_rademacher_bound(m, args.d, args.head_norm),
            "class_bound": rademacher_bound(cls, m) if args.out_dim == 1 else None,
            "route_p_slack": route_p_slack(cls, m, args.delta, **loss),
            "route_e_slack": route_e_slack(cls, m, args.delta, **loss),
            "restricted_rademacher": rad,
            "restricted_p_slack": restricted_route_p_slack(rad, m, args.delta,
                                                           loss_bound=args.loss_bound),
            "restricted_e_slack": restricted_route_e_slack(rad, m, args.delta,
                                                           loss_bound=args.loss_bound),
            **sizes,
        })
    return rows


def build(args) -> Table:
    return Table(compute(args), caption=CAPTION, label="tab:resdepth-guarantees", headers=HEADERS)
