"""Checks of S6 (capacity after training): the Lipschitz product, margins, path spectra."""

import itertools
import math

import torch

from numerics.capacity import capacity_summary
from numerics.data import load_dataset
from resdepth.checks.base import CheckResult, register, verdict
from resdepth.checks.towers import DATASET, s6_lams, trained_spec


@register("S6", needs=lambda ctx: [trained_spec(ctx, lam) for lam in s6_lams(ctx)])
def s6_capacity(ctx) -> list[CheckResult]:
    """S6: on trained models, lam shapes weight norms, the Lipschitz product, margins, spectrum."""
    data = load_dataset(DATASET, seed=ctx.seed)
    probe = torch.cat([data.test_x[:24], 3 * data.test_x.std() *
                       torch.randn(8, data.in_dim, generator=torch.Generator().manual_seed(1))])
    summaries, slack = {}, math.inf
    for lam in s6_lams(ctx):
        model, _ = ctx.trained(trained_spec(ctx, lam))
        summary = capacity_summary(model, data.test_x, data.test_y, n_jacobian=0)
        bound_probe = capacity_summary(model, probe, n_jacobian=len(probe))
        summary["log10_max_jacobian"] = bound_probe["log10_max_jacobian"]
        slack = min(slack, summary["log10_lipschitz_bound"] - summary["log10_max_jacobian"])
        summary.pop("energy_fractions")
        summaries[str(lam)] = summary
    ordered = [summaries[str(lam)] for lam in s6_lams(ctx)]
    monotone = all(a["log10_lipschitz_bound"] < b["log10_lipschitz_bound"]
                   and a["mean_path_length"] < b["mean_path_length"]
                   for a, b in itertools.pairwise(ordered))
    return [
        CheckResult("S6", "trained: max ||d x_n/d x_0||_2 over test and far inputs <= "
                    "prod(1 + lam_i B_i) (statistic: log10 slack, >= 0)", "bound", 0.0,
                    slack, slack, verdict(slack >= 0)),
        CheckResult("S6", "trained: a larger lam gives a larger Lipschitz product and a longer "
                    "mean path length (weight norms and margins recorded per lam)", "empirical",
                    "increasing in lam", summaries, monotone, verdict(monotone)),
    ]
