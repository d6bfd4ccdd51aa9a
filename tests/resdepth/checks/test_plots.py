"""The report's plots show the number each verdict is decided on: every test renders a plot from
a fixture and reads that number back from the drawn Figure (lines, bars, titles), not only the
file. (The real-model plots: tests/resdepth/real/test_plots.py; S7's: tests/resdepth/experiment.)"""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from resdepth.checks.capacity_plots import plot_s6
from resdepth.checks.expansion_plots import comparison_figure, line_search_figure
from resdepth.checks.expectation import SEPARATION, Z_MAX, z_panel
from resdepth.checks.scaling_plots import plot_s1
from resdepth.engine.rows import CheckResult, Criterion, Power
from resdepth.plots import plt, verdict_overview


def span(patch) -> tuple[float, float]:
    """The data-y range of an axhspan (a Rectangle or a Polygon, by matplotlib version)."""
    if hasattr(patch, "get_height"):
        return patch.get_y(), patch.get_y() + patch.get_height()
    ys = np.asarray(patch.get_xy())[:, 1]
    return float(ys.min()), float(ys.max())


def ctx_for(tmp_path):
    return SimpleNamespace(plot_path=lambda name: tmp_path / name, seed=0)


def z_row(z, verdict_alternative=SEPARATION + 1):
    return CheckResult("S2", "mean law", "expectation", 1.0, 1.0, z,
                       Criterion("z-score", "|x|<", Z_MAX),
                       Power("n - 1 for n", verdict_alternative, ">=", SEPARATION))


def test_S2_z_panel_draws_each_rows_z_and_the_pass_band(drawn_figures, tmp_path):
    rows = [z_row(1.5), z_row(-7.0), z_row(0.3, verdict_alternative=3.0)]
    assert [r.verdict for r in rows] == ["pass", "fail", "inconclusive"]
    fig, ax = plt.subplots()
    z_panel(ax, rows, ["a", "b", "c"])
    fig.savefig(tmp_path / "z.png")
    points = [(line.get_xdata()[0], line.get_ydata()[0]) for line in ax.get_lines()
              if len(line.get_xdata()) == 1 and line.get_marker() not in ("_", None)]
    assert (0, 1.5) in points and (1, -7.0) in points and (2, 0.3) in points
    assert span(ax.patches[0]) == pytest.approx((-Z_MAX, Z_MAX))
    plt.close(fig)


def test_overview_bars_count_every_verdict(tmp_path, drawn_figures):
    rows = [{"label": "R1", "verdict": "pass"}] * 3 + [{"label": "S7", "verdict": "fail"}] * 2 + [
        {"label": "S7", "verdict": "inconclusive"}]
    verdict_overview(rows, tmp_path / "verdicts.png")
    (fig,) = drawn_figures
    (ax,) = fig.axes
    heights = {}
    for bar in ax.patches:
        heights.setdefault(bar.get_facecolor(), []).append(bar.get_height())
    assert sorted(h for hs in heights.values() for h in hs if h) == [1, 2, 3]
    assert "6 rows: 3 pass, 2 fail, 1 inconclusive" in ax.get_title()


def test_D2_line_search_plot_shows_the_split_test_and_the_first_order_line(tmp_path,
                                                                            drawn_figures):
    steps = [0.0, 0.001, 0.01, 0.03, 0.1, 0.3]
    grad = 2.0
    curves = {"train": [1.0 - grad * t + 3 * t * t for t in steps],
              "held-out": [1.1 - grad * t for t in steps]}
    line_search_figure(tmp_path / "d2.png", steps, curves, 0.03, {"z": -10.6, "observed": True},
                       grad)
    (fig,) = drawn_figures
    assert "z = -10.60 (observed)" in fig._suptitle.get_text()
    right = fig.axes[1]
    first_order = [line for line in right.get_lines() if line.get_linestyle() == "--"][0]
    assert np.allclose(first_order.get_ydata(), [grad * t for t in (0.001, 0.01, 0.03)])


def test_D5_comparison_plot_draws_the_differences_the_verdicts_read(tmp_path, drawn_figures):
    point = {"label": "d=8", "seeds": 5, "z": 2.4, "observed": True, "diverged": False,
             "diff": (0.02, 0.005, 0.035), "seed_diffs": [0.01, 0.03],
             **{f"{k}_test": (0.5, 0.45, 0.55) for k in ("old", "expanded", "longer", "scratch")}}
    comparison_figure(tmp_path / "d5.png", [point, {**point, "label": "d=16", "diff": (
        -0.01, -0.03, 0.01), "observed": False}])
    (fig,) = drawn_figures
    bottom = fig.axes[1]
    drawn = [float(line.get_ydata()[0]) for line in bottom.get_lines() if len(line.get_ydata())
             == 1 and line.get_marker() == "o"]
    assert 0.02 in drawn and -0.01 in drawn
    labels = [t.get_text() for t in bottom.get_xticklabels()]
    assert any("z = 2.4" in t for t in labels)


def test_S6_plot_titles_carry_the_bound_rows_slack_and_verdicts(tmp_path, drawn_figures):
    lams, seeds = [0.1, 1.0], [0, 1, 2]
    stage = {"mean_path_length": 0.5, "log10_lipschitz_bound": 3.0, "gc": 2.0,
             "log10_max_jacobian": 2.2}
    runs = {(lam, s): {"init": dict(stage), "trained": {**stage, "log10_max_jacobian": 2.19
                                                          + 0.01 * s}}
            for lam in lams for s in seeds}
    bound = CheckResult("S6", "bound", "bound", 3.0, 2.2, 0.81,
                        Criterion("log10 slack", "<=", 1.0), Power("slack", 0.81, "<=", 1.0))
    trend = CheckResult("S6", "trend", "empirical", 0.0, 1.0, 1.0, Criterion("t", ">", 0.0),
                        Power("p", 1.0, ">", 0.0))
    assert plot_s6(ctx_for(tmp_path), runs, lams, [bound, trend, trend]) == "S6_capacity.png"
    (fig,) = drawn_figures
    title = fig.axes[1].get_title()
    assert "slack 0.81 decades" in title and bound.verdict in title
    optimiser = [line for line in fig.axes[1].get_lines() if line.get_marker() == "^"][0]
    assert np.allclose(optimiser.get_ydata(), 2.2)


def test_S1_plot_draws_the_slack_against_the_rounding_band(tmp_path, drawn_figures):
    from numerics.probes.lipschitz import rounding_tolerance
    from theorems.lipschitz import s1_bound

    case = {"d": 4, "lam": 0.5, "c": 1.0}
    depths = [1, 2, 4]
    found = {"relu": [0.9 * s1_bound(n, 0.5, 1.0) for n in depths]}
    rows = [None, CheckResult("S1", "relu", "bound", 1.0, 0.9, 0.1,
                              Criterion("slack", ">=", 0.0), Power("slack", 0.1, "<=", 0.5))]
    plot_s1(ctx_for(tmp_path), depths, found, rows, case, 0.5)
    (fig,) = drawn_figures
    right = fig.axes[1]
    slack = [line for line in right.get_lines() if line.get_marker() == "o"][0]
    assert np.allclose(slack.get_ydata(), 0.1)
    tol = rounding_tolerance(max(depths), 4)
    assert any(np.allclose(span(p), (-tol, tol)) for p in right.patches)
    assert any(line.get_ydata()[0] == 0.5 for line in right.get_lines()
               if line.get_linestyle() == "--")  # the power threshold


def test_D3_plot_draws_the_achieved_correlations_and_the_ratio_to_the_bound(tmp_path,
                                                                          drawn_figures):
    from resdepth.checks import d3
    from theorems.rademacher import NetworkClass, rademacher_bound

    cls = NetworkClass(d=3, depth=1, hidden=3, in_dim=4, head_norm=1.0, input_norm=1.0,
                       **d3.BUDGETS)
    sizes = [32, 128, 512]
    sweep = [{"mean": 0.9 * math.sqrt(8 / m), "se": 0.01} for m in sizes]
    achieved = {"m": 2048, "correlations": [0.08, 0.1]}
    assert d3._plot(ctx_for(tmp_path), sizes, sweep, 8, achieved, cls) == "D3_bounds.png"
    (fig,) = drawn_figures
    right = fig.axes[1]
    (points,) = [line for line in right.get_lines() if line.get_marker() == "o"]
    assert list(points.get_ydata()) == [0.08, 0.1]
    ratio = rademacher_bound(cls, 2048) / 0.09
    assert any(f"bound/achieved = {ratio:.1f}" in t.get_text()
               for t in right.get_legend().get_texts())


def test_D4_plot_draws_each_routes_slack_against_the_loss_range_and_coverage(tmp_path,
                                                                           drawn_figures):
    from resdepth.checks import d4

    slacks = [0.003, 0.029, 0.024, 0.508, 0.503]
    events = {name: (None, [s, s]) for name, s in zip("abcde", slacks)}  # per-run slacks
    rows = [CheckResult("D4", f"route {i}", "bound", 0.95, 1.0, 1.0,
                        Criterion("coverage", ">=", 0.95), Power("p", 1.0, ">=", 0.5),
                        details={"clopper_pearson": (0.964, 1.0), "reps": 100})
            for i in range(5)]
    d4._plot(ctx_for(tmp_path), rows, events, 0.0367, 32768)
    (fig,) = drawn_figures
    left, right = fig.axes
    assert [bar.get_height() for bar in left.patches] == slacks
    assert any(line.get_ydata()[0] == d4.CLIP for line in left.get_lines())
    assert any(line.get_ydata()[0] == 0.95 for line in right.get_lines())
    assert "vacuous\n0.508" in [t.get_text() for t in left.texts]


def test_R2_tower_lesion_plot_titles_the_unexplained_share(tmp_path, drawn_figures):
    from resdepth.checks import lesion

    curve = [{"m": m, "predicted": 0.9 ** m, "energy_predicted": 0.92 ** m, "uniform": 2.0**-m,
              "kept_mean": 0.9 ** m - 0.01, "kept": [0.9 ** m - 0.02, 0.9 ** m],
              "unexplained": 0.07 * m, "error": 0.1 * m} for m in (1, 2, 3)]
    study = {"lam": 0.25, "curve": curve, "intact_error": 0.05}
    lesion._plot(ctx_for(tmp_path), [study])
    (fig,) = drawn_figures
    panel = fig.axes[0]
    assert "unexplained 0.210 (criterion < 0.5)" in panel.get_title()
    prediction = [line for line in panel.get_lines() if line.get_linestyle() == "-"][0]
    assert np.allclose(prediction.get_ydata(), [0.9, 0.81, 0.729])


def test_R2_trained_spectrum_plot_titles_the_split_error_and_draws_the_shares(tmp_path,
                                                                            drawn_figures):
    import torch

    from numerics.probes.spectrum import Spectrum
    from resdepth.checks import r2

    terms = torch.tensor([[[1.0, 0.5]], [[0.3, -0.1]], [[0.05, 0.02]]], dtype=torch.float64)
    spectrum = Spectrum(terms, terms.sum(0))
    assert r2._plot_spectrum(ctx_for(tmp_path), spectrum, spectrum, [0.5, 0.5], 3.2e-16) == (
        "R2_trained_spectrum.png")
    (fig,) = drawn_figures
    (ax,) = fig.axes
    assert "split error 3.2e-16 (tol " in ax.get_title()
    heights = [bar.get_height() for bar in ax.patches[:3]]
    assert heights == pytest.approx(spectrum.signed_shares())


def test_S4_plot_draws_the_rows_z_scores_beside_the_regimes(tmp_path, drawn_figures):
    from resdepth.checks.scaling_plots import plot_s4

    found = {"0.5": [(4, math.e ** 0.9, 0.01), (16, math.e ** 0.97, 0.01)]}
    rows = [CheckResult("S4", "critical", "expectation", 1.0, 1.0, z,
                        Criterion("z", "|x|<", Z_MAX), Power("n - 1", 12.0, ">=", SEPARATION),
                        details={"beta": "0.5", "depth": n}) for z, n in ((0.8, 4), (-2.1, 16))]
    plot_s4(ctx_for(tmp_path), found, rows, "quick", lambda beta: 1.0)
    (fig,) = drawn_figures
    right = fig.axes[1]
    zs = [float(line.get_ydata()[0]) for line in right.get_lines()
          if len(line.get_ydata()) == 1 and line.get_marker() not in ("_", None)]
    assert 0.8 in zs and -2.1 in zs


def test_D2_observability_plot_draws_the_predicted_and_measured_crossings(tmp_path,
                                                                        drawn_figures):
    from resdepth.checks import d2_observability as d2

    null = CheckResult("D2", "size", "empirical", d2.ALPHA, 0.04, 0.04,
                       Criterion("size", "<=", 0.1), Power("p", 1.0, ">=", 0.5),
                       details={"clopper_pearson": (0.02, 0.07), "m": 64})
    curve = {"reps": 200, "grid": [10, 20, 40, 80, 160], "rates": [0.1, 0.3, 0.5, 0.8, 0.95],
             "predicted": [0.12, 0.28, 0.52, 0.78, 0.96], "m50": 38.0, "measured": 40.0}
    widths = {axis: [{axis: w, "k": 30, "reps": 300, "p": 0.1, "lower": 0.05, "upper": 0.15,
                      "predicted": 0.11, "d_eff": 3.0} for w in (8, 32)] for axis in ("h", "d")}
    ctx = SimpleNamespace(plot_path=lambda name: tmp_path / name, quick=True, mode="quick")
    d2._plot(ctx, null, curve, widths)
    (fig,) = drawn_figures
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "predicted m_50 = 38" in labels and "measured crossing of 1/2: 40" in labels
    assert any(f"({null.verdict})" in t for t in labels)
    rates = [line for line in fig.axes[0].get_lines() if line.get_marker() == "o"][0]
    assert list(rates.get_ydata()) == curve["rates"]
    title = fig.axes[1].get_title()
    assert "trained models: mean, 95% t-interval" in title


def test_S3_plot_titles_the_exact_row_and_draws_the_z_rows(tmp_path, drawn_figures):
    import torch

    from resdepth.checks.signal_plots import plot_s3

    depth, nets = 4, 50
    g = torch.Generator().manual_seed(0)
    pre = {"depth": depth, "width": 8, "lam": 0.5, "x0_sq": torch.ones(nets),
           "layer_sq": 1 + 0.25 * torch.arange(depth + 1.0)[:, None]
           + 0.01 * torch.randn(depth + 1, nets, generator=g, dtype=torch.float32)}
    post = {"identity_share": 0.85 ** torch.arange(depth + 1.0)[:, None]
            * (1 + 0.01 * torch.randn(depth + 1, nets, generator=g))}
    exact = CheckResult("S3", "post-LN norm", "exact", 1.0, 1.0, 2e-12,
                        Criterion("relative error", "<=", 1e-9), Power("p", 1e-9, "<=", 1e-6))
    zs = [z_row(v) for v in (0.4, -1.2, 2.2, 0.9)]
    plot_s3(ctx_for(tmp_path), pre, post, [exact, *zs])
    (fig,) = drawn_figures
    assert f"to {exact.statistic:.1e} ({exact.verdict})" in fig.axes[1].get_title()
    drawn = [float(line.get_ydata()[0]) for line in fig.axes[2].get_lines()
             if len(line.get_ydata()) == 1 and line.get_marker() not in ("_", None)]
    assert drawn[:4] == [0.4, -1.2, 2.2, 0.9]


def test_S2_plot_draws_the_mean_law_and_the_rows_z_scores(tmp_path, drawn_figures):
    import torch

    from resdepth.checks.signal_plots import plot_s2

    depth, nets = 3, 20
    g = torch.Generator().manual_seed(1)

    def run(lam):
        growth = (1 + lam * lam) ** torch.arange(depth + 1.0)[:, None]
        return {"depth": depth, "width": 4, "lam": lam, "n_nets": nets, "x0_sq": torch.ones(nets),
                "layer_sq": growth * (1 + 0.01 * torch.randn(depth + 1, nets, generator=g))}

    rows = [z_row(v) for v in (0.5, 1.5, -0.7, 3.1)]
    plot_s2(SimpleNamespace(plot_path=lambda name: tmp_path / name, seed=0), run(0.5), run(1.0),
            rows, nets)
    (fig,) = drawn_figures
    left, right = fig.axes
    laws = [list(line.get_ydata()) for line in left.get_lines() if line.get_linestyle() == "-"]
    assert any(np.allclose(v, [1.0, 1.25, 1.5625, 1.953125]) for v in laws)  # (1 + 1/4)^i
    drawn = [float(line.get_ydata()[0]) for line in right.get_lines()
             if len(line.get_ydata()) == 1 and line.get_marker() not in ("_", None)]
    assert drawn[:4] == [0.5, 1.5, -0.7, 3.1]
