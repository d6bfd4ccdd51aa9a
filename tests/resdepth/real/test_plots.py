"""Plots of a traced real model (resdepth.real.plots) show the number their verdict is decided
on: each test renders a plot from a fixture and reads the drawn data back from the Figure."""

import math

import numpy as np
import pytest

from resdepth.real import plots

# The lesion study of README's BERT (examples/mybert.py, probe seed 0): the spectrum predicts a
# kept share of 1.00104 after 4 deletions, 0.99986 is measured: a 1.2e-3 miss.
BERT_STUDY = {
    "singles": [{"block": i, "measured_change": 0.007 + 0.001 * (i % 3),
                 "frozen_change": 0.0072 + 0.001 * (i % 3)} for i in range(1, 9)],
    "curve": [
        {"m": 1, "kept_measured": 0.9999601110813845, "kept_measured_se": 3.1861435801408734e-06,
         "kept_predicted": 1.000258261076847, "kept_uniform": 0.5, "draws": 32},
        {"m": 2, "kept_measured": 0.9999293271328843, "kept_measured_se": 3.722796439220101e-06,
         "kept_predicted": 1.0005173459638226, "kept_uniform": 0.25, "draws": 32},
        {"m": 3, "kept_measured": 0.9998906465247587, "kept_measured_se": 2.1151230590782804e-06,
         "kept_predicted": 1.0007772477441632, "kept_uniform": 0.125, "draws": 32},
        {"m": 4, "kept_measured": 0.999859259050903, "kept_measured_se": 6.485370575354976e-06,
         "kept_predicted": 1.0010379594421182, "kept_uniform": 0.0625, "draws": 32},
    ],
}


def line_data(ax) -> list[np.ndarray]:
    return [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()]


def test_R2_lesion_plot_shows_the_miss_on_its_own_scale(tmp_path, drawn_figures):
    plots.plot_lesions(BERT_STUDY, tmp_path / "lesions.png", "bert", "fail")
    (fig,) = drawn_figures
    miss_axis = fig.axes[2]
    misses = [c["kept_predicted"] - c["kept_measured"] for c in BERT_STUDY["curve"]]
    assert any(len(y) == 4 and np.allclose(y, misses, rtol=1e-12) for y in line_data(miss_axis))
    assert misses[-1] == pytest.approx(1.18e-3, rel=0.01)
    low, high = miss_axis.get_ylim()
    assert high - low < 10 * misses[-1] and high > misses[-1]  # the miss fills the panel
    title = miss_axis.get_title()
    assert "fail" in title and "1.13" in title and "0.5" in title  # (miss - 5 SE) / effect at m = 3
    texts = " ".join(t.get_text() for t in fig.axes[1].texts)
    assert "1.00104" in texts and "0.999859" in texts


def test_R2_lesion_misses_match_the_rows_statistic():
    from resdepth.real.rows import UNEXPLAINED, lesion_row

    row = lesion_row("bert", BERT_STUDY, None)
    assert plots.lesion_misses(BERT_STUDY, UNEXPLAINED)["statistic"] == pytest.approx(
        row.statistic, rel=1e-12)
    assert row.verdict == "fail"


def profile(ratios, qs):
    log_orth = sum(math.log1p(q * q) for q in qs)
    return {"stream_norms": [1.0] * (len(qs) + 2), "effective_lam": list(qs),
            "branch_to_skip": list(qs), "energy_ratios": list(ratios),
            "log_measured": sum(math.log(r) for r in ratios), "log_orthogonal": log_orth,
            "log_aligned": sum(2 * math.log1p(q) for q in qs), "regime": {"regime": "critical"}}


def test_S3_signal_plot_ends_at_x_n_with_the_rows_statistic(tmp_path, drawn_figures):
    qs = [0.5, 0.4, 0.3]
    given = profile([1.3, 1.2, 1.1], qs)
    plots.plot_signal(given, None, tmp_path / "signal.png", "tower", "pass")
    (fig,) = drawn_figures
    left = fig.axes[0]
    measured = left.get_lines()[0]
    assert len(measured.get_xdata()) == len(qs) + 1  # x_0 .. x_n, nothing after block n
    assert measured.get_ydata()[-1] == pytest.approx(given["log_measured"], rel=1e-12)
    statistic = abs(given["log_measured"] - given["log_orthogonal"])
    threshold = (given["log_aligned"] - given["log_orthogonal"]) / 2
    title = left.get_title()
    assert "pass" in title and f"{statistic:.3g}" in title and f"{threshold:.3g}" in title
    finals = [line.get_ydata()[-1] for line in left.get_lines()]  # both laws end at block n
    assert finals[1] == pytest.approx(given["log_orthogonal"]) and finals[2] == pytest.approx(
        given["log_aligned"])


def spectrum_payload(law: bool):
    norms = [10.0, 1.0, 0.1, 1e-3, None]
    payload = {"norms_by_length": norms, "rounding_floor": 1e-12, "max_rel_error": 3e-16,
               "below_floor": {"lengths": [4], "reason": "below"}}
    if law:
        payload["binomial_shares"] = [0.9, 0.09, 0.009, 0.0009, 0.0001]
    return payload


@pytest.mark.parametrize("law", [True, False], ids=["binomial", "fitted"])
def test_R2_spectrum_plot_is_log_scale_with_law_and_floor(tmp_path, drawn_figures, law):
    payload = spectrum_payload(law)
    plots.plot_norms_by_length(payload, tmp_path / "spectrum.png", "tower")
    (fig,) = drawn_figures
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    ys = line_data(ax)
    assert any(np.allclose(y, [10.0, 1.0, 0.1, 1e-3]) for y in ys if len(y) == 4)  # measured
    assert any(len(y) == 5 for y in ys)  # the law over every length
    assert any(len(y) == 2 and np.allclose(y, 1e-12) for y in ys)  # the floor line
    assert any(len(y) == 1 and np.allclose(y, 1e-12) for y in ys)  # k = 4 marked at it
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("binomial law" in t for t in labels) and any("floor" in t for t in labels)


def test_R2_fitted_binomial_recovers_its_law():
    q, scale = 0.01, 4.0
    n = 6
    norms = [math.sqrt(scale * math.comb(n, k) * q**k) for k in range(n + 1)]
    fit_q, law = plots.fitted_binomial(norms[:-1] + [None])
    assert fit_q == pytest.approx(q, rel=1e-9) and law[-1] == pytest.approx(norms[-1], rel=1e-9)
    assert plots.fitted_binomial([1.0, None, None]) is None


def test_R2_probe_spectrum_plot_titles_the_split_error_and_marks_the_floor(tmp_path,
                                                                          drawn_figures):
    import torch

    from numerics.probes.spectrum import Spectrum
    from resdepth.real.rows import EXACT_TOL as EXACT_TOL_REAL

    terms = torch.tensor([[[1.0, 0.5]], [[0.2, -0.1]], [[1e-22, 0.0]]], dtype=torch.float64)
    spectrum = Spectrum(terms, terms.sum(0))
    plots.plot_spectrum_shares(spectrum, tmp_path / "spectrum.png", "tower")
    (fig,) = drawn_figures
    (ax,) = fig.axes
    assert f"= {spectrum.max_rel_error():.1e} (tolerance {EXACT_TOL_REAL:g}: exact)" in (
        ax.get_title())
    heights = [bar.get_height() for bar in ax.patches]
    assert heights[:3] == pytest.approx(spectrum.signed_shares()[:2] + [0.0])
    (marker,) = [line for line in ax.get_lines() if line.get_marker() == "v"]
    assert list(marker.get_xdata()) == [2]
