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
