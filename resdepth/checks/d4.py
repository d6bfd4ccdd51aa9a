"""Checks of D4: coverage of the two test-risk guarantees on the planted teacher-student family.

The restricted class (the inserted block's V in a ball of radius beta, the rest fixed at the
trained old model) has a Rademacher bound computed on each sample (theorems/guarantees.py,
numerics/probes/restricted_class.py); the whole class of D3 is reported beside it. A route whose slack
exceeds the loss range M is vacuous: its coverage holds by arithmetic and the row is
inconclusive. A coverage row fails when the Clopper-Pearson interval of the observed coverage
lies wholly below 1 - delta; its power comes from the realised gaps (issue 21): the coverage a
slack half as large would have had must fall to where the row fails, else the row could not
tell the slack from its half and is inconclusive.

At the certifying m the realised gaps are a small fraction of every slack, so those rows cannot
tell a slack from a fifth of it. The power experiments (:func:`_tight_rows`, proofs.md D4) put
the loss at nearly its largest variance (labels moved far with probability p, M = 8,
delta = 0.001, m = 256): there Hoeffding's step resolves its halved slack (and can pass), and
routes E and P resolve about a quarter of theirs (a slack x 0.2 fails; their halves still cover,
which for route E is provable: the rows stay inconclusive).
"""

import math

import torch

from numerics.probes.expansion import block_gradient, insert_block, make_loss, risk_at
from numerics.probes.guarantee_coverage import clopper_pearson, coverage_runs, far_label_noise
from numerics.probes.restricted_class import restricted_constants
from resdepth.checks.expansion_setup import load_old, old_spec, planted, position, with_plot
from resdepth.engine.policy import budget
from resdepth.engine.registry import CheckResult, register
from resdepth.engine.rows import Criterion, Power
from resdepth.plots import plt, save_figure
from theorems.guarantees import (
    hoeffding_slack,
    restricted_rademacher,
    restricted_route_e_slack,
    restricted_route_p_slack,
    restricted_sample_size,
    route_e_slack,
    route_p_slack,
)
from theorems.rademacher import NetworkClass

DELTA = 0.05
CLIP = 0.5
SCALE = 16.0
STEPS = (0.025, 0.05, 0.1)
INPUT_BOUND = 12.0  # ||x|| <= X fixed a priori; P(||N(0, I_16)|| > 12) < 1e-20
ALPHA = 0.05  # level of the two-sided Clopper-Pearson interval of the power experiment
# The power experiment (issue 21): far labels with probability 1/2 give a loss of nearly the
# largest variance M^2/4, a small delta puts the slacks' sqrt(log(1/delta)) where a Gaussian
# tail is close to Hoeffding's, small steps keep the Rademacher term small.
TIGHT = {"delta": 0.001, "clip": 8.0, "shift": 1e3, "steps": (0.0025, 0.005, 0.01), "m": 256,
         "p_excess": 0.07}


def _sizes(ctx):
    return budget("D4", ctx.mode)


@register("D4", needs=lambda ctx: [old_spec(ctx)])
def d4_coverage(ctx) -> list[CheckResult]:
    """D4: coverage of routes P and E (restricted class) and of route P's Hoeffding step."""
    sizes = _sizes(ctx)
    old, _, _ = load_old(ctx)
    j = position(old)
    teacher = planted(old, SCALE, ctx.seed + 40)
    m, pilot = _choose_m(old, j, teacher, sizes, ctx.seed)
    res = coverage_runs(old, teacher.sample, position=j, m=m, reps=sizes["reps"], clip=CLIP,
                        steps=STEPS, n_pop=sizes["n_pop"],
                        generator=torch.Generator().manual_seed(ctx.seed + 41))
    margin = res["pop_old"] - res["pop_jump"]
    lam, d = pilot["lam"], pilot["d"]
    slacks = []
    for run in res["runs"]:
        rad = restricted_rademacher(run["q"], m, beta=res["beta"], lam=lam, d=d)
        slacks.append({"P": restricted_route_p_slack(rad, m, DELTA, loss_bound=CLIP),
                       "E": restricted_route_e_slack(rad, m, DELTA, loss_bound=CLIP)})
    whole = _whole_class_slacks(res["model"], res["beta"], m)
    hoeff = hoeffding_slack(m, DELTA, CLIP)
    runs = res["runs"]
    reps = len(runs)
    events = {
        "Hoeffding step of route P: R_S(f_J) <= R(f_J) + M sqrt(log(1/delta)/2m)":
            ([r["train_jump"] - res["pop_jump"] for r in runs], [hoeff] * reps),
        "route P, restricted class: R(f^) <= R(f_0) - Delta + s_P(S)":
            ([r["pop_sel"] - res["pop_old"] + margin for r in runs], [s["P"] for s in slacks]),
        "route E, restricted class: R(f^) <= R_S(f^) + s_E(S)":
            ([r["pop_sel"] - r["train_sel"] for r in runs], [s["E"] for s in slacks]),
        "route P, whole class (D3's covering bound)":
            ([r["pop_sel"] - res["pop_old"] + margin for r in runs], [whole["P"]] * reps),
        "route E, whole class (D3's covering bound)":
            ([r["pop_sel"] - r["train_sel"] for r in runs], [whole["E"]] * reps),
    }
    certify = _certification(res, slacks, margin, pilot, m)
    rows = [_coverage_row(claim, gaps, run_slacks, m, DELTA, DELTA, CLIP,
                          {"margin": margin, **certify})
            for claim, (gaps, run_slacks) in events.items()]
    plot = _plot(ctx, rows, events, margin, m)
    return [with_plot(row, plot) for row in rows] + _tight_rows(ctx, old, j, teacher, sizes)


def _tight_rows(ctx, old, j, teacher, sizes) -> list[CheckResult]:
    """D4's power experiments: the same teacher with the label moved far (||shift|| = 1e3) with
    probability p, clipped loss M = 8 (the clean loss is about 0.3), delta = 0.001, m = 256,
    ``tight_reps`` samples each. A moved example's loss is M for every model of F_beta
    (restricted_constants gives it c_i = 0), so the loss is nearly M x Bernoulli(p): the
    realised deviations come as close to the slacks' deviation terms as a [0, M] loss allows.

    - p = 1/2, the population-gradient jumpboard: Hoeffding's step and route E;
    - p = 1/2 + ``TIGHT["p_excess"]``, the jumpboard f_J = f_0 + shift (fixed before S, outside
      F_beta; route P's proof uses f_J only through Hoeffding): its loss is M where F_beta's is
      the clean one and the clean one where F_beta's is M, so R(f_J) is lower by
      eps = (2p - 1)(M - clean loss) and a member of F_beta wins on S when fewer than half of S
      is moved. Route P's own gap R(f^) - R(f_J) of an in-class jumpboard is a difference of
      population risks inside a small ball and never realises the deviation terms."""
    delta, clip, m = TIGHT["delta"], TIGHT["clip"], TIGHT["m"]
    out_dim = old.head[0].out_features
    shift = torch.full((out_dim,), TIGHT["shift"] / math.sqrt(out_dim), dtype=torch.float64)
    rows = []
    for p, jump in ((0.5, None), (0.5 + TIGHT["p_excess"], shift)):
        noisy, population = far_label_noise(teacher.sample, shift, p)
        res = coverage_runs(old, noisy, position=j, m=m, reps=sizes["tight_reps"], clip=clip,
                            steps=TIGHT["steps"], n_pop=sizes["tight_n_pop"],
                            population=population, output_jump=jump,
                            generator=torch.Generator().manual_seed(ctx.seed + 43))
        model, runs = res["model"], res["runs"]
        lam, d = float(model.blocks[j].lam), model.config.width
        rads = [restricted_rademacher(r["q"], m, beta=res["beta"], lam=lam, d=d) for r in runs]
        hoeff = hoeffding_slack(m, delta, clip)
        setting = (f"power experiment (labels moved far with probability {p:g}, "
                   + ("jumpboard f_0 + shift outside F_beta, " if jump is not None else "")
                   + f"M = {clip:g}, delta = {delta:g}, beta = {res['beta']:g}, "
                   f"{len(runs)} samples)")
        details = {"setting": setting, "pop_old": res["pop_old"], "pop_jump": res["pop_jump"],
                   "mean_rademacher_term": 2 * _mean(rads), "hoeffding_slack": hoeff,
                   "jumpboard_selected": _mean(float(r["selected"] == 1) for r in runs)}
        if jump is None:
            events = {
                "Hoeffding step of route P: R_S(f_J) <= R(f_J) + M sqrt(log(1/delta)/2m)":
                    ([r["train_jump"] - res["pop_jump"] for r in runs], [hoeff] * len(runs)),
                "route E, restricted class: R(f^) <= R_S(f^) + s_E(S)":
                    ([r["pop_sel"] - r["train_sel"] for r in runs],
                     [restricted_route_e_slack(rad, m, delta, loss_bound=clip) for rad in rads]),
            }
        else:
            events = {"route P, restricted class: R(f^) <= R(f_0) - Delta + s_P(S)":
                      ([r["pop_sel"] - res["pop_jump"] for r in runs],
                       [restricted_route_p_slack(rad, m, delta, loss_bound=clip)
                        for rad in rads])}
        rows += [_coverage_row(f"{setting}: {claim}", gaps, run_slacks, m, delta, ALPHA, clip,
                               details) for claim, (gaps, run_slacks) in events.items()]
    return rows


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def _choose_m(old, j, teacher, sizes, seed) -> tuple[int, dict]:
    """The sample size of the coverage runs, fixed before them from population quantities:
    the next power of 2 above 1.5 x the m at which route P certifies (capped)."""
    gen = torch.Generator().manual_seed(seed + 42)
    model = insert_block(old, j, generator=torch.Generator().manual_seed(seed + 41))
    x, y = teacher.sample(sizes["n_pilot"], gen)
    pilot = restricted_constants(model, j, x, y, beta=max(STEPS), clip=CLIP)
    loss = make_loss("regression", clip=CLIP)
    g = block_gradient(model, j, x, y, loss)
    with torch.no_grad():
        risks = [float(risk_at(model, j, -t * g / g.norm(), x, y, loss)) for t in (0.0, *STEPS)]
    margin = risks[0] - min(risks[1:])
    if margin <= 0:
        return sizes["cap"], {**pilot, "margin": margin, "m_route_p": None}
    m_p = restricted_sample_size("P", margin, DELTA, loss_bound=CLIP, q=pilot["q"],
                                 beta=max(STEPS), lam=pilot["lam"], d=pilot["d"])
    m = min(sizes["cap"], 2 ** math.ceil(math.log2(1.5 * m_p)))
    return m, {**pilot, "margin": margin, "m_route_p": m_p}


def _whole_class_slacks(model, beta, m) -> dict:
    blocks = model.blocks
    cls = NetworkClass(
        d=model.config.width, depth=len(blocks), hidden=blocks[0].branch[0].out_features,
        in_dim=model.embed[0].in_features, out_dim=model.head[0].out_features,
        head_norm=_fro(model.head[0].weight), embed_norm=_fro(model.embed[0].weight),
        u_norm=max(_fro(b.branch[0].weight) for b in blocks),
        v_norm=max([beta] + [_fro(b.branch[2].weight) for b in blocks]), input_norm=INPUT_BOUND)
    loss = {"loss_bound": CLIP, "loss_lipschitz": 2 * math.sqrt(CLIP)}
    return {"P": route_p_slack(cls, m, DELTA, **loss), "E": route_e_slack(cls, m, DELTA, **loss)}


def _fro(weight) -> float:
    return float(weight.detach().norm())


def _certification(res, slacks, margin, pilot, m) -> dict:
    """Does each restricted route certify an improvement at m, and from which m on?"""
    decrease = [r["train_old"] - r["train_sel"] for r in res["runs"]]
    q = _mean(r["q"] for r in res["runs"])
    kwargs = {"loss_bound": CLIP, "q": q, "beta": res["beta"], "lam": pilot["lam"],
              "d": pilot["d"]}
    return {
        "margin": margin, "m": m, "q": q, "beta": res["beta"],
        "route_p_certifies": _mean(float(margin > s["P"]) for s in slacks),
        "route_e_certifies": _mean(float(dd > s["E"]) for dd, s in zip(decrease, slacks,
                                                                        strict=True)),
        "m_route_p": restricted_sample_size("P", margin, DELTA, **kwargs) if margin > 0 else None,
        "m_route_e": restricted_sample_size("E", _mean(decrease), DELTA, **kwargs)
        if _mean(decrease) > 0 else None,
        "tables_command": (f"resdepth tables guarantees --delta {DELTA} --loss-bound {CLIP} "
                           f"--d {pilot['d']} --beta {res['beta']:g} --lam {pilot['lam']:g} "
                           f"--q {q:.4g} --margin {margin:.4g} --m {m}"),
    }


def _detectable(reps: int, delta: float, alpha: float) -> float:
    """The largest observed coverage k/reps whose Clopper-Pearson (1 - alpha) interval lies
    below 1 - delta: a true coverage at or below it fails the row about half of the time or
    more."""
    k = max((k for k in range(reps + 1) if clopper_pearson(k, reps, alpha)[1] < 1 - delta),
            default=0)
    return k / reps


def _resolved_factor(ratios: list[float], detectable: float) -> float:
    """The largest factor f for which a slack x f would have left at most ``detectable`` of the
    samples covered (``ratios``: gap/slack per sample): every slack x f' with f' < f fails."""
    violations = len(ratios) - math.floor(detectable * len(ratios) + 1e-9)
    return sorted(ratios, reverse=True)[violations - 1] if violations <= len(ratios) else 0.0


def _coverage_row(claim, gaps, run_slacks, m, delta, alpha, clip, context) -> CheckResult:
    """Coverage of ``gap <= slack`` over the repetitions (``gaps``: the realised left side minus
    the right side without its slack, per sample), judged by the Clopper-Pearson (1 - alpha)
    interval against 1 - delta. The power comes from the same realised gaps: the coverage a
    slack half as large would have had must fall to the detectable level (a halved slack fails
    this row); a slack so loose that its half still covers leaves the row inconclusive, as does
    a slack above the loss range M (coverage by arithmetic)."""
    reps = len(gaps)
    k = sum(g <= s for g, s in zip(gaps, run_slacks, strict=True))
    halved = sum(g <= s / 2 for g, s in zip(gaps, run_slacks, strict=True)) / reps
    slack = _mean(run_slacks)
    lo, hi = clopper_pearson(k, reps, alpha)
    vacuous = slack >= clip
    detectable = _detectable(reps, delta, alpha)
    ratios = [g / s for g, s in zip(gaps, run_slacks, strict=True)]
    return CheckResult(
        "D4", f"coverage >= 1 - delta = {1 - delta:g} at m = {m}: {claim}"
        + (" (vacuous: slack above the loss range)" if vacuous else ""), "bound", 1 - delta,
        k / reps, hi, Criterion("Clopper-Pearson upper end of the coverage", ">=", 1 - delta),
        Power(f"the slack halved: the coverage it would have had on these {reps} samples "
              f"(from the realised gaps) must be at or below {detectable:.4g}, where this row "
              f"fails; a slack above the loss range M = {clip:g} is never informative",
              None if vacuous else halved, "<=", detectable),
        details={"coverage": k / reps, "clopper_pearson": [lo, hi], "reps": reps,
                 "delta": delta, "alpha": alpha, "mean_slack": slack,
                 "coverage_with_half_slack": halved, "largest_gap_over_slack": max(ratios),
                 "slack_factor_resolved": _resolved_factor(ratios, detectable),
                 "detectable_coverage": detectable, **context})


def _plot(ctx, rows, events, margin, m) -> str | None:
    """D4_coverage.png: each route's slack against the loss range (vacuous above it) and the
    margin; coverage per route with Clopper-Pearson intervals against 1 - delta."""
    path = ctx.plot_path("D4_coverage.png")
    if path is None:
        return None
    names = ["Hoeffding\nstep", "P\nrestricted", "E\nrestricted", "P\nwhole class",
             "E\nwhole class"]
    slacks = [_mean(run_slacks) for _, run_slacks in events.values()]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    colours = ["C3" if s >= CLIP else "C0" for s in slacks]
    left.bar(range(len(names)), slacks, color=colours)
    left.axhline(CLIP, color="k", ls="--", label=f"loss range M = {CLIP}: above it vacuous")
    left.axhline(margin, color="C2", ls=":", label=f"population margin Delta = {margin:.3g}")
    for i, s in enumerate(slacks):
        left.annotate(f"vacuous\n{s:.3g}" if s >= CLIP else f"{s:.3g}", (i, s), ha="center",
                      va="bottom", fontsize="x-small", textcoords="offset points",
                      xytext=(0, 2))
    left.set_yscale("log")
    low, high = left.get_ylim()
    left.set_ylim(low, high * 4)  # room above the bars for their labels
    left.set_xticks(range(len(names)), names, fontsize="small")
    left.set_ylabel("slack (mean over samples)")
    left.set_title(f"D4 slacks at m = {m}", fontsize="medium")
    left.legend(fontsize="x-small", loc="upper left")
    cov = [row.measurement for row in rows]
    cps = [row.details["clopper_pearson"] for row in rows]
    right.errorbar(range(len(names)), cov, fmt="o", capsize=5, color="C0",
                   yerr=[[c - lo for c, (lo, _) in zip(cov, cps, strict=True)],
                         [hi - c for c, (_, hi) in zip(cov, cps, strict=True)]],
                   label=f"coverage, Clopper-Pearson {1 - DELTA:.0%} interval")
    for i, row in enumerate(rows):
        right.annotate(row.verdict, (i, cov[i]), textcoords="offset points", xytext=(6, -12),
                       fontsize="x-small")
    right.axhline(1 - DELTA, color="C3", ls="--", label=f"nominal 1 - delta = {1 - DELTA}")
    right.set_xticks(range(len(names)), names, fontsize="small")
    right.set_xlim(-0.5, len(names) - 0.5)
    right.set_ylim(min(0.85, *(lo for lo, _ in cps)) - 0.02, 1.02)
    right.set_ylabel("fraction of repetitions covered")
    right.set_title(f"D4 coverage over {rows[0].details['reps']} samples", fontsize="medium")
    right.legend(fontsize="small", loc="lower left")
    return save_figure(fig, path)


__all__ = ["d4_coverage"]
