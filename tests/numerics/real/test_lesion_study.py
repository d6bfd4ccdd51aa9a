"""The sequential lesion study (numerics.real.lesion_study): the frozen lesion's exact mean is the
spectrum's prediction, one backward pass gives every single frozen lesion exactly (the control
variate), the control-variate estimate is the measured mean, and the draws stop when the
caller's rule says the verdict is decided (R2, real architectures)."""

import itertools
import math

import pytest
import torch

from numerics.models.zoo import resnet_cnn
from numerics.probes.lesion import kept_share
from numerics.real.frozen import frozen_spectrum, run_chain, trace_model
from numerics.real.lesion_study import (
    _draw_nested,
    kept_share_prediction,
    lesion_study,
    uniform_kept_share,
)
from numerics.real.lesions import (
    frozen_single_effects,
    lesioned_outputs,
    measured_lesions,
    shared_block_applications,
)


@pytest.fixture(scope="module")
def traced():
    model, inputs = resnet_cnn((8,) * 5 + (16,), batch=2, side=6)
    return trace_model(model, inputs)


def test_R2_frozen_lesions_average_to_the_prediction_over_every_subset(traced):
    # the identity the control variate rests on, checked exhaustively (no sampling)
    n = len(traced.blocks)
    shares = frozen_spectrum(traced).signed_shares()
    for m in (1, 2, 4):
        sets = list(itertools.combinations(range(n), m))
        measured, frozen = lesioned_outputs(traced, sets)
        mean_frozen = sum(kept_share(f, traced.output) for f in frozen) / len(sets)
        assert mean_frozen == pytest.approx(kept_share_prediction(shares, m), abs=1e-12)
        mean_measured = sum(kept_share(x, traced.output) for x in measured) / len(sets)
        assert abs(mean_measured - mean_frozen) > 1e-6  # the gates move: something to measure


def test_uniform_kept_share_is_the_mean_over_every_subset():
    branches = [1, 2, 1, 3, 1]
    for m in range(6):
        brute = [math.prod(1 / (1 + branches[i]) for i in s)
                 for s in itertools.combinations(range(5), m)]
        assert uniform_kept_share(branches, m) == pytest.approx(sum(brute) / len(brute),
                                                                rel=1e-14)


def never(curve):
    return []


def always(curve):
    return [p["m"] for p in curve]


def test_R2_a_decided_verdict_stops_after_one_round(traced):
    n = len(traced.blocks)
    study = lesion_study(traced, [1, 2, 3], torch.Generator().manual_seed(0), undecided=never,
                         round_size=3, max_draws=64)
    assert study["rounds"] == 1 and [p["draws"] for p in study["curve"]] == [3, 3, 3]
    sets = [tuple(s) for p in study["curve"] for s in p["sets"]]
    assert study["sets_measured"] == len(set(sets))
    # nested sets share their streams: fewer block applications than one stream per set
    assert study["block_applications"] == shared_block_applications(set(sets), n)
    assert study["block_applications"] < sum(n - min(s) for s in set(sets))
    for p in study["curve"]:
        assert p["kept_measured_se"] > 0 and not p["exhaustive"]
        # 3 draws: beta = 1, the difference estimator E_m G + mean (K - G)
        diffs = [k - c for k, c in zip(p["kept_each"], p["control_each"])]
        assert p["kept_measured"] == pytest.approx(p["control_mean"] + sum(diffs) / 3,
                                                   abs=1e-15)
        effects = study["single_effects"]
        assert p["control_each"] == [pytest.approx(1 - sum(effects[i] for i in s), abs=1e-15)
                                     for s in p["sets"]]


def test_R2_undecided_draws_go_on_in_rounds_to_the_cap(traced):
    seen = []

    def open_m2(curve):
        seen.append([p["draws"] for p in curve])
        return [2]

    study = lesion_study(traced, [1, 2], torch.Generator().manual_seed(0), undecided=open_m2,
                         round_size=4, max_draws=9)
    assert seen == [[4, 4], [4, 8], [4, 9]]  # m = 2 alone draws on, capped at 9
    assert study["rounds"] == 3 and not study["curve"][1]["exhaustive"]
    p = study["curve"][1]
    assert len({tuple(s) for s in p["sets"]}) == 9  # without replacement, of C(5, 2) = 10
    k, f = p["kept_each"], p["control_each"]
    mk, mf = sum(k) / 9, sum(f) / 9
    beta = sum((a - mk) * (b - mf) for a, b in zip(k, f)) / sum((b - mf) ** 2 for b in f)
    residuals = [a - beta * b for a, b in zip(k, f)]
    mr = sum(residuals) / 9
    sd = math.sqrt(sum((r - mr) ** 2 for r in residuals) / 7)  # N - 2: beta was fitted
    assert p["control_beta"] == pytest.approx(beta, rel=1e-12) and p["dof"] == 7
    assert p["kept_measured"] == pytest.approx(mk - beta * (mf - p["control_mean"]),
                                               abs=1e-14)
    assert p["kept_measured_se"] == pytest.approx(sd / 3 * math.sqrt(1 - 9 / 10), rel=1e-12)


def test_R2_draws_that_would_reach_every_subset_measure_every_subset(traced):
    # n = 5, m = 4: C(5, 4) = 5 sets, fewer than two rounds of 4: all measured, SE 0
    study = lesion_study(traced, [4], torch.Generator().manual_seed(0), undecided=always,
                         round_size=4, max_draws=64)
    (point,) = study["curve"]
    assert point["exhaustive"] and point["draws"] == 5 and point["kept_measured_se"] == 0.0
    assert point["kept_measured"] == pytest.approx(point["kept_measured_plain"], abs=1e-12)
    assert point["control_mean_draws"] == pytest.approx(point["control_mean"], abs=1e-12)


def test_R2_the_same_seed_draws_the_same_sets_and_another_seed_others(traced):
    def run(seed):
        return lesion_study(traced, [1, 2], torch.Generator().manual_seed(seed),
                            undecided=never, round_size=4)["curve"]

    assert [p["sets"] for p in run(3)] == [p["sets"] for p in run(3)]
    assert [p["sets"] for p in run(3)] != [p["sets"] for p in run(4)]


def test_R2_the_control_variate_shrinks_the_standard_error(traced):
    study = lesion_study(traced, [1, 2], torch.Generator().manual_seed(0), undecided=never,
                         round_size=4)
    for p in study["curve"]:
        assert p["kept_measured_se"] < 0.5 * p["kept_measured_plain_se"]


def test_lesion_study_rejects_too_few_draws(traced):
    with pytest.raises(ValueError, match="max_draws must be an integer >= 2"):
        lesion_study(traced, [1], torch.Generator(), undecided=never, max_draws=1)
    with pytest.raises(ValueError, match="round_size"):
        lesion_study(traced, [1], torch.Generator(), undecided=never, round_size=1)


def test_R2_singles_delete_each_block_in_turn(traced):
    study = lesion_study(traced, [1], torch.Generator().manual_seed(0), undecided=never,
                         singles=True)
    assert [s["block"] for s in study["singles"]] == [1, 2, 3, 4, 5]
    assert all(s["frozen_change"] > 0 for s in study["singles"])


def test_R2_one_backward_pass_gives_every_single_frozen_lesion_exactly(traced):
    # F is affine in each block's branch scale: F({i}) = 1 - a_i, with a_i = dF/d delta_i
    n = len(traced.blocks)
    effects = frozen_single_effects(traced)
    _, frozen = lesioned_outputs(traced, [[i] for i in range(n)])
    for i in range(n):
        assert kept_share(frozen[i], traced.output) == pytest.approx(1 - effects[i], abs=1e-13)
    # summed, the spectrum's first moment: a path of length k is counted by its k blocks
    shares = frozen_spectrum(traced).signed_shares()
    assert sum(effects) == pytest.approx(sum(k * s for k, s in enumerate(shares)), abs=1e-13)


def test_R2_the_first_order_control_has_the_exact_mean_it_is_given(traced):
    # E_m G = 1 - (m / n) sum a_i over every m-subset, checked exhaustively
    n = len(traced.blocks)
    effects = frozen_single_effects(traced)
    study = lesion_study(traced, [2], torch.Generator().manual_seed(0), undecided=never)
    for m in (1, 2, 3):
        every = [1 - sum(effects[i] for i in s) for s in itertools.combinations(range(n), m)]
        assert sum(every) / len(every) == pytest.approx(1 - m * sum(effects) / n, abs=1e-14)
    assert study["curve"][0]["control_mean"] == pytest.approx(1 - 2 * sum(effects) / n,
                                                               abs=1e-15)
    moment = study["first_moment"]
    assert moment["abs_error"] < 1e-13 and moment["sum_single_effects"] == pytest.approx(
        moment["spectrum_first_moment"], abs=1e-13)


def test_R2_measured_lesions_alone_equal_the_measured_half(traced):
    sets = [[0], [1, 3], [2, 4]]
    both, _ = lesioned_outputs(traced, sets)
    assert torch.equal(measured_lesions(traced, sets), both)


def test_R2_more_sizes_each_later_round(traced):
    seen = []

    def open_m1(curve):
        seen.append([p["draws"] for p in curve])
        return [1] if len(seen) < 3 else []

    study = lesion_study(traced, [1, 2], torch.Generator().manual_seed(0), undecided=open_m1,
                         round_size=2, max_draws=64, more=lambda point: 3)
    assert seen == [[2, 2], [5, 2]]  # m = 1 draws 3 more, then C(5, 1) = 5: every set
    assert study["curve"][0]["exhaustive"] and study["rounds"] == 2


def test_R2_lesions_with_shared_prefixes_equal_one_pass_per_set(traced):
    # nested and overlapping sets share streams in one pass; each output is still its own
    # lesion, as a separate pass with the gates recomputed gives it
    sets = [[1], [1, 3], [1, 3, 4], [0, 3], [2], [1], [], [0, 1, 2, 3, 4]]
    measured, frozen = lesioned_outputs(traced, sets)
    for j, s in enumerate(sets):
        with torch.no_grad():
            alone = run_chain(traced, deleted=s)
        assert torch.allclose(measured[j], alone, rtol=0, atol=1e-12 * float(alone.norm()))
    lone_m, lone_f = zip(*(lesioned_outputs(traced, [s]) for s in sets))
    assert torch.allclose(frozen, torch.cat(lone_f), rtol=0, atol=1e-13)
    assert torch.allclose(measured, torch.cat(lone_m), rtol=0, atol=1e-13)


def test_R2_shared_block_applications_count_distinct_prefixes():
    # n = 6: {1} and {1, 4} share blocks 1..3; {2} starts at 2; the empty set costs nothing
    assert shared_block_applications([[1], [1, 4], [2], []], 6) == 5 + 2 + 4
    assert shared_block_applications([[0]], 6) == 6
    assert shared_block_applications([[0, 5], [0, 5]], 6) == 6  # a repeated set: one stream


def test_R2_nested_draws_are_uniform_without_replacement_for_each_m():
    # every m-set equally likely (chi-square over all of them), none repeated within a draw
    n, sizes, trials = 5, {1: 3, 2: 3, 3: 3}, 3000
    counts = {m: {} for m in sizes}
    generator = torch.Generator().manual_seed(0)
    for _ in range(trials):
        fresh = _draw_nested(n, sizes, {m: set() for m in sizes}, generator)
        for m, sets in fresh.items():
            assert len(set(sets)) == len(sets) == sizes[m]
            assert all(len(s) == m and list(s) == sorted(s) for s in sets)
            for s in sets:
                counts[m][s] = counts[m].get(s, 0) + 1
    for m in sizes:
        cells = math.comb(n, m)
        assert len(counts[m]) == cells
        expected = trials * sizes[m] / cells
        chi2 = sum((c - expected) ** 2 / expected for c in counts[m].values())
        assert chi2 < cells - 1 + 5 * math.sqrt(2 * (cells - 1))  # mean + 5 sd of chi-square
    # and the chains are nested where no proposal was taken before
    fresh = _draw_nested(60, {1: 4, 2: 4, 4: 4}, {1: set(), 2: set(), 4: set()},
                         torch.Generator().manual_seed(1))
    for t in range(4):
        assert set(fresh[1][t]) <= set(fresh[2][t]) <= set(fresh[4][t])
