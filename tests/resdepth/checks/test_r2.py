"""The R2 and R5 checks (resdepth/checks/r2.py, resdepth/checks/lesion.py): every row has a
criterion and a power, they pass (or, where the measurement cannot tell, are inconclusive) in
the quick budget, draw their plots, and fail when the formula they guard is broken."""

import math

import pytest
import torch

from numerics.probes import jacobian as jacobian_module
from numerics.probes.spectrum import Spectrum
from resdepth.checks import CheckContext, lesion, load_checks, r2
from resdepth.engine.registry import train_locally

CHECKS = [entry for label in ("R2", "R5") for entry in load_checks(("R2", "R5"))[label]
          if entry.check.__module__ in (r2.__name__, lesion.__name__)]


@pytest.fixture(scope="module")
def context():
    """A quick context whose runner trains each declared run once (and only declared runs)."""
    cache = {}
    declared = {spec.key() for entry in CHECKS for spec in entry.specs(CheckContext(quick=True))}

    def runner(spec, device):
        assert spec.key() in declared, "a check trained a run it did not declare in needs="
        if spec.key() not in cache:
            cache[spec.key()] = train_locally(spec, device)
        return cache[spec.key()]

    return CheckContext(quick=True, runner=runner)


@pytest.fixture(scope="module")
def lesion_run(context, tmp_path_factory):
    """The lesion rows, with their plot drawn into a fresh folder."""
    folder = tmp_path_factory.mktemp("lesion")
    context.out_dir = folder
    try:
        return lesion.r2_lesion(context), folder
    finally:
        context.out_dir = None


def test_R2_R5_checks_are_registered():
    names = {entry.check.__name__ for entry in CHECKS}
    assert names == {"r2_random_towers", "r2_secant", "r2_trained", "r2_lesion", "r5_jacobian"}


@pytest.mark.parametrize("check", [r2.r2_random_towers, r2.r2_secant, r2.r5_jacobian],
                         ids=lambda c: c.__name__)
def test_R2_R5_identity_rows_pass_with_power(check):
    rows = check(CheckContext(quick=True))
    assert rows and all(row.kind == "exact" and row.verdict == "pass" for row in rows)
    assert all(row.power.informative() for row in rows)
    for row in rows:
        row.as_dict()


def test_R2_trained_rows_pass_and_draw_the_signed_spectrum(context, tmp_path):
    context.out_dir = tmp_path
    try:
        rows = r2.r2_trained(context)
    finally:
        context.out_dir = None
    assert [row.verdict for row in rows] == ["pass"]
    assert rows[0].details["max_abs_signed_share_sum_minus_1"] < 1e-9
    assert rows[0].plot == "R2_trained_spectrum.png"
    assert (tmp_path / rows[0].plot).stat().st_size > 0
    trained = rows[0].details["trained"]
    assert math.fsum(trained["signed_shares"]) == pytest.approx(1.0, abs=1e-12)
    assert trained["mean_length_signed"] == pytest.approx(
        sum(k * s for k, s in enumerate(trained["signed_shares"])))
    assert trained["signed_shares"] != pytest.approx(trained["energy_shares"], abs=1e-3)


def test_R2_lesion_rows(lesion_run):
    rows, folder = lesion_run
    paths, mean, *real = rows
    assert paths.kind == mean.kind == "exact" and paths.verdict == mean.verdict == "pass"
    assert mean.power.value > 1e-3  # the energy shares miss the frozen lesion by far more than tol
    assert [row.kind for row in real] == ["empirical", "empirical"]
    short, long = real  # lam = 1/4 and lam = 1
    assert short.verdict == "pass" and short.power.informative()
    assert long.verdict in ("pass", "inconclusive")
    assert long.power.informative() == (long.verdict == "pass")
    for row in real:  # issue 21: 5 independently trained models, an interval over them
        assert len(set(row.details["seeds"])) == 5
        assert len(row.details["per_model_unexplained"]) == 5
        lower, upper = row.details["unexplained_interval"]
        assert row.statistic == max(0.0, lower) and lower <= upper
    for row in rows:
        row.as_dict()
    curve = short.details["curve"]
    assert [p["m"] for p in curve] == list(range(1, 7))
    assert all(p["exhaustive"] and len(p["subsets"]) == math.comb(6, p["m"]) for p in curve)
    assert {row.plot for row in real} == {"R2_lesion.png"} and paths.plot is None
    assert (folder / "R2_lesion.png").stat().st_size > 0
    assert lesion._plot(CheckContext(quick=True), []) is None


def _short_path_study(context):
    """The lesion study of the lam = 1/4 network (the informative one)."""
    return lesion._study(context, 0.25)


def test_R2_enumeration_row_fails_with_a_wrong_power_of_lam(monkeypatch):
    """A DP putting lam^(k + 1) on the paths of length k >= 1: caught by the enumeration."""
    right = r2.path_spectrum

    def extra_lam(blocks, x0, **kwargs):
        spectrum = right(blocks, x0, **kwargs)
        scale = torch.tensor([1.0] + [0.7] * spectrum.depth, dtype=x0.dtype)
        terms = spectrum.terms * scale.view(-1, *[1] * (spectrum.terms.dim() - 1))
        return Spectrum(terms, spectrum.output)

    monkeypatch.setattr(r2, "path_spectrum", extra_lam)
    rows = r2.r2_random_towers(CheckContext(quick=True))
    assert [row.verdict for row in rows] == ["fail", "fail", "fail"]


def test_R2_generic_route_row_fails_with_D_doubled(monkeypatch):
    """Issue 21's survivor: D doubled in the generic route's JVP keeps sum_k y_k = x_n exact
    (c = f(x) - Dx absorbs it); only the scaling-derivative row sees the wrong lengths."""
    from numerics.probes import spectrum as spectrum_module

    right = spectrum_module._jvp
    monkeypatch.setattr(spectrum_module, "_jvp", lambda branch, x, stack: 2 * right(branch, x,
                                                                                   stack))
    rows = r2.r2_random_towers(CheckContext(quick=True))
    assert [row.verdict for row in rows] == ["pass", "pass", "fail"]
    assert rows[2].details["generic_route"] > 0.1 and rows[2].details["mlp_route"] < 1e-9


def test_R2_enumeration_row_fails_when_the_DP_misfiles_lengths(monkeypatch):
    """Terms rotated by one length: the split still holds, the masked-pass oracle does not."""
    right = r2.path_spectrum

    def rotated(blocks, x0, **kwargs):
        spectrum = right(blocks, x0, **kwargs)
        terms = spectrum.terms.clone()
        terms[1:] = terms[1:].roll(1, 0)
        return Spectrum(terms, spectrum.output)

    monkeypatch.setattr(r2, "path_spectrum", rotated)
    rows = r2.r2_random_towers(CheckContext(quick=True))
    assert [row.verdict for row in rows] == ["pass", "fail", "fail"]


def test_R2_secant_row_fails_with_the_midpoint_rule(monkeypatch):
    right = r2.secant_spectrum
    monkeypatch.setattr(r2, "secant_spectrum", lambda blocks, x0, nodes: right(blocks, x0, nodes=1))
    assert [row.verdict for row in r2.r2_secant(CheckContext(quick=True))] == ["fail"]


def test_R5_row_fails_with_the_product_in_the_wrong_order(monkeypatch):
    def reversed_product(blocks, x0):
        jacobians, _ = jacobian_module.branch_jacobians(blocks, x0)
        eye = torch.eye(jacobians[0].shape[-1], dtype=x0.dtype)
        total = eye.expand_as(jacobians[0]).clone()
        for block, jac in zip(blocks, jacobians):
            total = total @ (eye + block.lam.to(x0.dtype) * jac)
        return total

    monkeypatch.setattr(r2, "jacobian_product", reversed_product)
    assert [row.verdict for row in r2.r5_jacobian(CheckContext(quick=True))] == ["fail", "pass"]


def test_R2_lesion_mean_row_fails_with_independent_deletions(context, monkeypatch):
    """(1 - m/n)^k, each block deleted independently, in place of C(n-m,k)/C(n,k)."""
    def independent(weights, m):
        n = len(weights) - 1
        return sum((1 - m / n) ** k * w for k, w in enumerate(weights)) / sum(weights)

    monkeypatch.setattr(lesion, "surviving_share", independent)
    assert lesion._mean_row([_short_path_study(context)]).verdict == "fail"


def test_R2_lesion_mean_row_fails_with_energy_shares(context, monkeypatch):
    monkeypatch.setattr(Spectrum, "signed_shares", Spectrum.energy_fractions)
    study = _short_path_study(context)
    assert lesion._paths_row([study]).verdict == "pass"
    assert lesion._mean_row([study]).verdict == "fail"


def test_R2_lesion_paths_row_fails_when_a_deleted_blocks_paths_are_kept(context, monkeypatch):
    right = lesion.surviving_paths
    monkeypatch.setattr(lesion, "surviving_paths",
                        lambda paths, deleted: right(paths, [(i + 1) % 6 for i in deleted]))
    assert lesion._paths_row([_short_path_study(context)]).verdict == "fail"


def test_R2_real_lesion_row_fails_against_the_uniform_law(context, monkeypatch):
    """Predicting 2^-m (every path the same share) fails on the short-path networks (all 5)."""
    monkeypatch.setattr(lesion, "surviving_share", lambda weights, m: 2.0**-m)
    studies = [lesion._study(context, 0.25, spec.seed)
               for spec in lesion.lesion_specs(context, 0.25)]
    assert len(studies) == 5 and lesion._real_row(studies, None).verdict == "fail"


def _synthetic_study(seed, kept_shift):
    curve = [{"m": m, "predicted": 0.8 ** m, "kept_mean": 0.8 ** m + kept_shift * (1 - 0.8 ** m),
              "uniform": 2.0 ** -m, "energy_predicted": 0.7 ** m} for m in range(1, 7)]
    for p in curve:
        p["unexplained"] = lesion._over_effect(p["kept_mean"], p)
    return {"lam": 0.25, "seed": seed, "curve": curve, "intact_error": 0.1,
            "signed_shares": [], "energy_shares": []}


def test_R2_real_lesion_row_judges_the_interval_over_models():
    """Unexplained shares 0.05-0.09 in five models: pass; 0.8-0.9: fail; one model at 0.05 and
    the others spread to 0.95: the interval straddles 1/2, inconclusive."""
    good = lesion._real_row([_synthetic_study(k, 0.05 + 0.01 * k) for k in range(5)], None)
    assert good.verdict == "pass" and good.power.value > 0
    bad = lesion._real_row([_synthetic_study(k, 0.8 + 0.02 * k) for k in range(5)], None)
    assert bad.verdict == "fail" and bad.statistic >= lesion.LESION_UNEXPLAINED
    spread = lesion._real_row([_synthetic_study(k, s) for k, s in
                               enumerate((0.05, 0.95, 0.5, 0.9, 0.1))], None)
    assert spread.verdict == "inconclusive"
