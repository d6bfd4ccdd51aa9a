"""resdepth.testing and the pytest plugin: users check their own model's path decomposition (R2)."""

import pytest
import torch
from torch import nn

from resdepth.testing import assert_paths_sum, build_residual_model

pytest_plugins = ["pytester"]


@pytest.mark.parametrize("kind", ["tower", "post-ln", "resnet"])
def test_R2_assert_paths_sum_on_built_models(kind):
    model, inputs = build_residual_model(kind, seed=1)
    spectrum = assert_paths_sum(model, inputs)
    assert spectrum.depth == 2 and spectrum.max_rel_error() <= 1e-10


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(3, 3), nn.ReLU())

    def forward(self, x):
        return x + self.f(x)


def test_R2_assert_paths_sum_leaves_the_model_alone():
    model = Residual()
    assert assert_paths_sum(model, torch.randn(2, 3)).depth == 1
    assert next(model.parameters()).dtype == torch.float32


def test_R2_assert_paths_sum_fails_when_a_rule_is_wrong(monkeypatch):
    import numerics.real.frozen_rules as rules

    original = rules._secant

    def wrong(node, name, args, actual, t, cache, depth):
        out = original(node, name, args, actual, t, cache, depth)
        return rules.Lin(out.x * 0.99, out.depth, out.name)

    monkeypatch.setattr(rules, "_secant", wrong)
    model, inputs = build_residual_model("tower", seed=2)
    with pytest.raises(AssertionError, match="miss its output"):
        assert_paths_sum(model, inputs)


def test_build_residual_model_refuses_unknown_kinds():
    with pytest.raises(ValueError, match="kind must be one of"):
        build_residual_model("lstm")


def test_plugin_fixtures_in_a_users_test_file(pytester):
    pytester.makepyfile(test_user="""
        from resdepth.testing import assert_paths_sum

        def test_mine(residual_model, resdepth_strategies):
            model, inputs = residual_model("resnet", seed=3)
            assert assert_paths_sum(model, inputs).depth == 2
            assert hasattr(resdepth_strategies, "towers")
    """)
    result = pytester.runpytest("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_plugin_fixtures_under_given_pass_default_health_checks(pytester):
    """A user's @given test taking both fixtures, under Hypothesis' *default* health checks (no
    suppression): a function-scoped fixture would fail it with ``function_scoped_fixture``."""
    pytester.makepyfile(test_user_given="""
        from hypothesis import HealthCheck, given, settings
        from resdepth.strategies import build_tower, tower_inputs, towers
        from resdepth.testing import assert_paths_sum

        DEFAULT = settings(settings.get_profile("default"), max_examples=3, deadline=None)
        assert HealthCheck.function_scoped_fixture not in DEFAULT.suppress_health_check

        @DEFAULT
        @given(draw=towers(max_depth=3, max_width=4, piecewise_linear=True))
        def test_drawn_tower_is_a_sum_of_paths(draw, residual_model, resdepth_strategies):
            seed, cfg = draw
            model = build_tower(seed, cfg, in_dim=3, out_dim=2)
            assert assert_paths_sum(model, tower_inputs(seed, 4, 3)).depth == cfg.depth
            assert resdepth_strategies.towers is towers
            assert callable(residual_model)
    """)
    result = pytester.runpytest("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
