"""Exact values and edge cases that mutmut's survivors showed untested: S1/S4 closed forms
(scaling), S3 branch share (signal), S5 effective scale (schemes), S6 capacity product (capacity),
S2 median (block_law), D3 covering expression (rademacher), D4 sample-size search (guarantees),
D2 misalignment (joint_scaling), S1's lemma (lipschitz)."""

import math

import pytest
import sympy as sp

from theorems import scaling
from theorems.block_law import log_ratio_median
from theorems.capacity import capacity_product_expr
from theorems.guarantees import (
    certifying_sample_size,
    head_level_sample_size,
    restricted_sample_size,
)
from theorems.joint_scaling import misalignment_probability
from theorems.lipschitz import log_lemma
from theorems.rademacher import log_covering_expr
from theorems.schemes import effective_lam
from theorems.signal import s3_branch_share


def _at(expr, **values):
    symbols = {s.name: s for s in expr.free_symbols}
    return expr.subs({symbols[k]: v for k, v in values.items()})


def test_S4_mean_path_length_is_n_t_over_one_plus_t():
    # beta = 1/2, n = 4, a^2 sigma^2 = 1: t = 1/4, n t / (1 + t) = 4/5
    assert _at(scaling.mean_path_length(sp.Rational(1, 2)), n=4, a=1, sigma2=1) == sp.Rational(4, 5)


def test_S1_bound_is_one_plus_a_c_n_to_minus_beta_to_the_n():
    assert _at(scaling.s1_bound(sp.Integer(0), c=3), n=2, a=1) == 16
    default = scaling.s1_bound(sp.Integer(0))
    (c,) = [s for s in default.free_symbols if s.name == "c"]
    assert c.is_positive and _at(default, n=2, a=1, c=3) == 16


def test_S3_branch_share_edges():
    assert s3_branch_share(1, 0.5, 1.0, 1, 0.0) == 1.0        # E||x_1||^2 = 0.25 < 1, all branch
    assert s3_branch_share(1, 0.0, 1.0, 4, 0.0) == 0.0        # nothing at all: share 0
    assert s3_branch_share(2, 1.0, 1.0, 4, 4.0) == pytest.approx(4 / 12)
    with pytest.raises(ValueError, match="^i must be an integer >= 1"):
        s3_branch_share(0, 1.0, 1.0, 4, 4.0)
    with pytest.raises(ValueError, match="^d must be an integer >= 1"):
        s3_branch_share(1, 1.0, 1.0, 0, 4.0)


def test_S5_effective_lam_at_depth_one_and_bool_refused():
    assert effective_lam("inv-sqrt", 1) == 1.0
    with pytest.raises(ValueError, match="^depth must be a positive integer"):
        effective_lam("inv-sqrt", True)


def test_S2_median_at_depth_one_and_bool_refused():
    assert math.isfinite(log_ratio_median(1, 1.0, 1.0, 8, 8))
    with pytest.raises(ValueError, match="^n must be a positive integer"):
        log_ratio_median(True, 1.0, 1.0, 8, 8)


def test_S6_capacity_product_symbols_are_positive_and_named():
    expr, lams, bounds = capacity_product_expr(1)
    assert [s.name for s in lams] == ["lam1"] and [s.name for s in bounds] == ["B1"]
    assert all(s.is_positive for s in lams + bounds)
    assert sp.expand(expr - (1 + lams[0] * bounds[0])) == 0
    with pytest.raises(ValueError, match="^n must be a positive integer"):
        capacity_product_expr(True)


def test_D3_log_covering_expression_symbols():
    expr = log_covering_expr(1)
    names = {s.name: s for s in expr.free_symbols}
    for name in ("d", "h", "p"):
        assert names[name].is_positive and names[name].is_integer, name
    for name in ("B", "beta_U", "beta_V", "X", "eps", "eps_c"):
        assert names[name].is_positive, name
    with pytest.raises(ValueError, match="^depth must be"):
        log_covering_expr(0)


def test_D4_certifying_sample_size_needs_a_strictly_smaller_slack():
    # 1/m < 1/4 first at m = 5 (m = 4 gives equality, which does not certify)
    assert certifying_sample_size(lambda m: 1 / m, 0.25) == 5
    assert certifying_sample_size(lambda m: 1 / m, 2.0) == 1
    assert certifying_sample_size(lambda m: 3 / m, 1.0) == 4
    with pytest.raises(ValueError, match="^margin must be"):
        certifying_sample_size(lambda m: 1 / m, 0.0)


def test_D4_sample_sizes_name_margin_and_beta():
    with pytest.raises(ValueError, match="^margin must be"):
        head_level_sample_size(0.0, 0.05, loss_bound=1.0, loss_lipschitz=1.0, d=4, head_norm=1.0)
    with pytest.raises(ValueError, match="^margin must be"):
        restricted_sample_size("P", 0.0, 0.05, loss_bound=1.0, q=1.0, beta=0.1, lam=1.0, d=4)
    with pytest.raises(ValueError, match="^beta must be"):
        restricted_sample_size("P", 0.1, 0.05, loss_bound=1.0, q=1.0, beta=0.0, lam=1.0, d=4)


def test_D2_misalignment_names_m():
    with pytest.raises(ValueError, match="^m must be"):
        misalignment_probability(0.0, mu2=1.0, mu_sigma_mu=1.0, tr_sigma2=1.0)


def test_S1_lemma_variable_is_t():
    lemma = log_lemma()
    assert lemma["t"].name == "t" and lemma["t"].is_nonnegative
    assert sp.simplify(lemma["derivative"] - lemma["t"] / (1 + lemma["t"])) == 0


def test_S6_capacity_refusals_name_lams_or_bounds():
    from theorems.capacity import log_capacity_product

    with pytest.raises(ValueError, match="^bounds must be finite"):
        log_capacity_product([0.5], [-1.0])
    with pytest.raises(ValueError, match="^lams must be finite"):
        log_capacity_product([-0.5], [1.0])


def test_R4_tree_count_polynomial_default_variable_and_order_check():
    from theorems.counting import tree_count_polynomial, tree_counts

    poly = tree_count_polynomial(2)
    (n,) = poly.free_symbols
    assert n.name == "n" and n.is_integer and n.is_nonnegative
    with pytest.raises(ValueError, match="^k must be"):
        tree_counts(3, -1)


def test_D2_expected_z_and_D3_head_bound_name_m():
    from theorems.joint_scaling import expected_split_z
    from theorems.rademacher import head_rademacher_bound

    with pytest.raises(ValueError, match="^m must be"):
        expected_split_z(0.0, mu2=1.0, mu_sigma_mu=1.0, tr_sigma2=1.0)
    with pytest.raises(ValueError, match="^m must be"):
        head_rademacher_bound(0, 4, 1.0)


def test_R4_residue_primes_fit_their_word_and_cover_the_bits():
    from theorems.residues import primes_for_bits

    primes = primes_for_bits(60, 27)
    assert all(p < 2**27 for p in primes)
    assert math.log2(math.prod(primes)) > 60
    # one prime of 27 bits covers 26 bits but not 2 log2 of itself: the product must exceed, not reach
    single = primes_for_bits(26, 27)
    assert math.log2(math.prod(single)) > 26


def test_D4_common_checks_refuse_bool_m_and_a_zero_loss_range():
    from theorems.guarantees import hoeffding_slack

    with pytest.raises(ValueError, match="^m must be an integer"):
        hoeffding_slack(True, 0.05, 1.0)
    with pytest.raises(ValueError, match="^m must be an integer"):
        hoeffding_slack(0, 0.05, 1.0)
    with pytest.raises(ValueError, match="^loss_bound must be"):
        hoeffding_slack(10, 0.05, 0.0)


def test_D3_head_bound_refuses_bool_m_and_names_d():
    from theorems.rademacher import head_rademacher_bound

    with pytest.raises(ValueError, match="^m must be an integer"):
        head_rademacher_bound(True, 4, 1.0)
    with pytest.raises(ValueError, match="^d must be an integer"):
        head_rademacher_bound(10, 0, 1.0)


def test_R3_tree_and_vector_refusals_name_n_and_d():
    from theorems.trees import label_decreasing_trees
    from theorems.vector_trees import (
        collisions,
        vector_elementary_differential,
        vector_tower_series,
    )

    with pytest.raises(ValueError, match="^n must be"):
        label_decreasing_trees(0, 1)
    with pytest.raises(ValueError, match="^d must be"):
        collisions(2, 1, 0)
    with pytest.raises(ValueError, match="^d must be"):
        vector_elementary_differential((), 0)
    with pytest.raises(ValueError, match="^n must be"):
        vector_tower_series(0, 2, 1)


def test_R3_vector_tower_series_has_d_coordinates():
    from theorems.vector_trees import vector_tower_series

    series = vector_tower_series(1, 2, 1)
    assert all(len(term) == 2 for term in series)
