"""``resdepth tables guarantees``: D3's Rademacher bounds and D4's two test-risk guarantees.

One row per sample size m. Every row carries its parameters as keys (``delta``, ``B``, ``d``,
``L``, ``width`` (branch hidden width h), ``in_dim``, ``out_dim``, the norm budgets, ``ln_eps``,
``loss_bound`` M, ``loss_lipschitz``, ``margin`` Delta) and the figures: ``head_bound``
(B sqrt(d/m)), ``class_bound`` (D3 for the whole post-LN class, scalar output),
``route_p_slack`` and ``route_e_slack`` (D4's s_P and s_E for the loss class),
``route_p_certifies`` (Delta > s_P) and ``route_e_certifies`` (Delta > s_E, Delta read as the
decrease measured on the training sample), and the least sample sizes at which each route
certifies Delta: ``m_route_p``, ``m_route_e`` (bisection on the covering bound; null beyond
10^18) and ``m_route_p_head`` (closed form for a trained head on fixed features).
"""

from resdepth.errors import finite_positive, positive_int
from resdepth.formats import Table

NAME = "guarantees"
HELP = "D3/D4: Rademacher bounds, test-risk slacks and certifying sample sizes per m"
DEFAULT_MS = (100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000)
HEADERS = {
    "delta": r"$\delta$", "B": "$B$", "d": "$d$", "L": "$L$", "width": "$h$", "in_dim": "$p$",
    "out_dim": "outputs $k$", "embed_norm": r"$\lVert E\rVert_F$",
    "u_norm": r"$\lVert U_l\rVert_F$", "v_norm": r"$\lVert V_l\rVert_F$",
    "input_norm": "input norm $X$", "ln_eps": r"LayerNorm $\epsilon$",
    "loss_bound": "loss bound $M$", "loss_lipschitz": "loss Lipschitz constant",
    "margin": r"$\Delta$", "m": "$m$", "head_bound": r"$B\sqrt{d/m}$",
    "class_bound": "D3 class bound", "route_p_slack": "$s_P$", "route_e_slack": "$s_E$",
    "route_p_certifies": r"$\Delta > s_P$", "route_e_certifies": r"$\Delta > s_E$",
    "m_route_p": "least $m$, route P", "m_route_e": "least $m$, route E",
    "m_route_p_head": "least $m$, route P (head)",
}
CAPTION = (r"D3/D4: Rademacher bounds of the head ($B\sqrt{d/m}$) and of the whole post-LN "
           r"class (D3), D4's test-risk slacks $s_P$ and $s_E$ at $m$ samples with confidence "
           r"$1 - \delta$, whether each certifies the improvement $\Delta$, and the least "
           r"sample sizes at which each route does.")


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
                        help="Lipschitz constant of the loss in the output")
    parser.add_argument("--margin", type=finite_positive, default=0.05,
                        help="improvement Delta to certify")
    parser.add_argument("--m", type=positive_int, nargs="+", default=list(DEFAULT_MS),
                        help="sample sizes (one row each)")


def compute(args) -> list[dict]:
    """The table's rows (see the module docstring)."""
    from theorems.rademacher import NetworkClass, head_rademacher_bound, rademacher_bound
    from theorems.test_risk import (
        certifying_sample_size,
        head_level_sample_size,
        route_e_slack,
        route_p_slack,
    )

    cls = NetworkClass(
        d=args.d, depth=args.L, hidden=args.width, in_dim=args.in_dim, out_dim=args.out_dim,
        head_norm=args.head_norm, embed_norm=args.embed_norm, u_norm=args.u_norm,
        v_norm=args.v_norm, input_norm=args.input_norm, ln_eps=args.ln_eps,
    )
    loss = {"loss_bound": args.loss_bound, "loss_lipschitz": args.loss_lipschitz}
    m_p = certifying_sample_size(lambda m: route_p_slack(cls, m, args.delta, **loss), args.margin)
    m_e = certifying_sample_size(lambda m: route_e_slack(cls, m, args.delta, **loss), args.margin)
    m_head = head_level_sample_size(args.margin, args.delta, d=args.d, head_norm=args.head_norm,
                                    **loss)
    params = {
        "delta": args.delta, "B": args.head_norm, "d": args.d, "L": args.L, "width": args.width,
        "in_dim": args.in_dim, "out_dim": args.out_dim, "embed_norm": args.embed_norm,
        "u_norm": args.u_norm, "v_norm": args.v_norm, "input_norm": args.input_norm,
        "ln_eps": args.ln_eps, **loss, "margin": args.margin,
    }
    rows = []
    for m in args.m:
        s_p = route_p_slack(cls, m, args.delta, **loss)
        s_e = route_e_slack(cls, m, args.delta, **loss)
        rows.append({
            **params, "m": m,
            "head_bound": head_rademacher_bound(m, args.d, args.head_norm),
            "class_bound": rademacher_bound(cls, m) if args.out_dim == 1 else None,
            "route_p_slack": s_p, "route_e_slack": s_e,
            "route_p_certifies": args.margin > s_p, "route_e_certifies": args.margin > s_e,
            "m_route_p": m_p, "m_route_e": m_e, "m_route_p_head": m_head,
        })
    return rows


def build(args) -> Table:
    return Table(compute(args), caption=CAPTION, label="tab:resdepth-guarantees", headers=HEADERS)
