"""The experiment's plots show the numbers S7's rows are decided on (read from the drawn Figure)."""

import math

import pytest

from resdepth.experiment import plots
from resdepth.experiment.rows import row_f

DEPTHS = (4, 16, 64)
LRS = [2.0**e for e in range(-10, -1)]


def sweep_records():
    """depth-muP's best log2 lr stays at -6; constant lam's moves one octave per depth."""
    records = []
    for rule in ("mup", "constant"):
        for j, depth in enumerate(DEPTHS):
            best = -6.0 if rule == "mup" else -5.0 - j
            for lr in LRS:
                for seed in (0, 1):
                    loss = 0.1 + 0.05 * (math.log2(lr) - best) ** 2 + 0.001 * seed
                    records.append({"group": "sweep", "rule": rule, "depth": depth, "lr": lr,
                                    "seed": seed, "final_train_loss": loss})
    return records


def test_S7f_lr_sweep_plot_shows_the_spreads_the_row_decides_on(tmp_path, drawn_figures):
    records = sweep_records()
    plots.lr_sweep(records, tmp_path / "lr.png", classes=10)
    (fig,) = drawn_figures
    measured = row_f(records, classes=10).measurement
    assert measured == pytest.approx(2.0, abs=1e-9)
    mup, constant = (ax.get_title() for ax in fig.axes)
    assert "moves 0.00 octaves" in mup and "moves 2.00 octaves" in constant
    assert f"{measured:+.2f} octaves" in fig._suptitle.get_text()
    dotted = [line.get_xdata()[0] for line in fig.axes[1].get_lines() if line.get_linestyle() == ":"]
    assert sorted(math.log2(x) for x in dotted) == pytest.approx([-7.0, -6.0, -5.0], abs=1e-9)


def accuracy_table():
    from resdepth.experiment.stats import interval

    base = {"none": 0.40, "inv-sqrt": 0.83, "inv": 0.80, "pre-ln": 0.78, "batch": 0.60}
    table = {}
    for rule, acc in base.items():
        for depth in (16, 256):
            values = {s: acc + 0.01 * s - (0.3 if rule == "none" and depth == 256 else 0.0)
                      for s in range(3)}
            table[rule, depth] = {"interval": interval(values.values()), "values": values,
                                  "diverged": int(rule == "none" and depth == 256), "runs": 3}
    return table


def test_S7cd_accuracy_plot_draws_the_paired_differences_on_their_own_scale(tmp_path,
                                                                             drawn_figures):
    table = accuracy_table()
    plots.accuracy_vs_depth(table, 0.46, 0.1, tmp_path / "acc.png")
    (fig,) = drawn_figures
    diff = fig.axes[1]
    names = [t.get_text() for t in diff.get_xticklabels()]
    assert names == ["(c) inv-sqrt - inv", "(d) pre-ln - inv-sqrt", "(d) batch - inv-sqrt"]
    drawn = [float(line.get_ydata()[0]) for line in diff.get_lines() if line.get_marker() == "o"]
    assert drawn == pytest.approx([0.03, -0.05, -0.23])
    assert "+3.0" in " ".join(t.get_text() for t in diff.texts)
    low, high = diff.get_ylim()
    assert high - low < 0.5  # its own scale, not the 0..1 of accuracy


def gc_records():
    """At depth 16: lam = 1/16, 1/4, 1 with a GC dip at 1/4 (an interior minimum)."""
    records = []
    for rule, a, log_gc in (("inv", 1.0, 2.0), ("inv-sqrt", 1.0, 1.0), ("none", 1.0, 2.5)):
        for seed in range(3):
            gc = 10 ** (log_gc + 0.01 * seed)
            records.append({"group": "grid", "rule": rule, "depth": 16, "a": a, "seed": seed,
                            "final_test_acc": 0.8, "diverged": False,
                            "measurements": {"initial": {"gc": gc}, "trained": {"gc": gc}}})
    return records


def test_S7e_gc_plot_names_the_interior_minimum_z_the_row_decides_on(tmp_path, drawn_figures):
    from resdepth.experiment.rows import row_e

    records = gc_records()
    plots.gc_vs_lam(records, 0.5, tmp_path / "gc.png")
    (fig,) = drawn_figures
    row = row_e(records, 0.5)
    assert row.verdict == "fail"
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert labels == [f"n = 16, interior-minimum z = {row.statistic:.2g}"]
    assert f"largest interior-minimum z = {row.statistic:.2g}" in fig._suptitle.get_text()
    (curve,) = [line for line in fig.axes[1].get_lines() if line.get_marker() == "o"]
    assert curve.get_ydata()[1] < min(curve.get_ydata()[0], curve.get_ydata()[2])


def test_R2_experiment_spectrum_plot_draws_the_mean_shares_and_lengths(tmp_path, drawn_figures):
    shares = {"initial": [0.5, 0.4, 0.1], "trained": [0.2, 0.5, 0.3]}
    records = [{"group": "grid", "rule": "inv", "depth": 16, "a": 1.0, "seed": s,
                "measurements": {when: {"signed_shares": [v + 0.01 * s * (k == 0) - 0.01 * s
                                                          * (k == 1) for k, v in enumerate(vals)]}
                                 for when, vals in shares.items()}} for s in (0, 2)]
    plots.spectrum_shares(records, tmp_path / "shares.png")
    (fig,) = drawn_figures
    ax = fig.axes[0]
    drawn = {line.get_linestyle(): list(line.get_ydata()) for line in ax.get_lines()}
    assert drawn["--"] == pytest.approx([0.51, 0.39, 0.1])
    assert drawn["-"] == pytest.approx([0.21, 0.49, 0.3])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["initial (mean length 0.59)", "trained (mean length 1.1)"]
