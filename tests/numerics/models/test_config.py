"""ModelConfig and TrainConfig: defaults, derived quantities (S5's lam rules) and validation."""

import math

import pytest

from numerics.models.config import (
    ModelConfig,
    TrainConfig,
    deepnorm_alpha,
    deepnorm_beta,
    fixup_gain,
    mup_lr_scale,
)


def test_defaults_match_the_contract():
    cfg = ModelConfig()
    assert (cfg.arch, cfg.depth, cfg.width, cfg.hidden, cfg.norm, cfg.scaling, cfg.lam,
            cfg.activation, cfg.bias) == ("mlp", 8, 64, None, "none", "constant", 1.0, "relu", True)
    train = TrainConfig()
    assert (train.epochs, train.batch_size, train.lr, train.optimizer, train.weight_decay,
            train.schedule, train.engine) == (20, 128, 1e-3, "adamw", 0.0, "cosine", "modules")


def test_configs_are_frozen():
    with pytest.raises(AttributeError):
        ModelConfig().depth = 3


def test_hidden_defaults_to_width_or_four_width():
    assert ModelConfig(width=16).branch_hidden() == 16
    assert ModelConfig(arch="cnn", width=16).branch_hidden() == 16
    assert ModelConfig(arch="transformer", width=16).branch_hidden() == 64
    assert ModelConfig(width=16, hidden=5).branch_hidden() == 5


@pytest.mark.parametrize("depth", [1, 4, 25])
def test_S5_lam_rules_as_functions_of_depth(depth):
    """S5: the effective lam of each scheme at initialisation, with n = number of blocks."""
    a = 1.5
    lam = {s: ModelConfig(depth=depth, scaling=s, lam=a,
                          norm="post" if s == "deepnorm" else "none").block_lam()
           for s in ("constant", "inv-sqrt", "inv", "learnable", "fixup", "deepnorm", "mup")}
    assert lam["constant"] == a
    assert lam["inv-sqrt"] == pytest.approx(a / math.sqrt(depth), rel=1e-15)
    assert lam["inv"] == pytest.approx(a / depth, rel=1e-15)
    assert lam["learnable"] == 0.0
    assert lam["fixup"] == a
    assert lam["mup"] == pytest.approx(a / math.sqrt(depth), rel=1e-15)
    n_layers = depth / 2  # DeepNorm's N: layers of two sublayers each
    assert lam["deepnorm"] == pytest.approx((2 * n_layers) ** -0.25, rel=1e-15)


def test_S5_deepnorm_and_fixup_constants_follow_the_papers():
    n_layers = 6  # a 6-layer Transformer: 12 residual blocks
    assert deepnorm_alpha(2 * n_layers) == pytest.approx((2 * n_layers) ** 0.25, rel=1e-15)
    assert deepnorm_beta(2 * n_layers) == pytest.approx((8 * n_layers) ** -0.25, rel=1e-15)
    assert fixup_gain(16, layers_per_branch=2) == pytest.approx(16 ** -0.5, rel=1e-15)
    assert fixup_gain(27, layers_per_branch=4) == pytest.approx(27 ** (-1 / 6), rel=1e-12)


def test_transformer_counts_two_blocks_per_layer():
    cfg = ModelConfig(arch="transformer", depth=3, width=8, heads=2, scaling="inv")
    assert cfg.n_blocks() == 6 and cfg.block_lam() == pytest.approx(1 / 6)


@pytest.mark.parametrize("kwargs, field", [
    ({"depth": 0}, "depth"), ({"width": -3}, "width"), ({"hidden": 0}, "hidden"),
    ({"lam": float("nan")}, "lam"), ({"lam": float("inf")}, "lam"), ({"lam": -1.0}, "lam"),
    ({"arch": "rnn"}, "arch"), ({"norm": "group"}, "norm"), ({"scaling": "magic"}, "scaling"),
    ({"activation": "tanh"}, "activation"), ({"depth": 2.5}, "depth"),
    ({"depth": True}, "depth"), ({"arch": "transformer", "width": 10, "heads": 4}, "heads"),
    ({"arch": "transformer", "norm": "batch"}, "norm"), ({"scaling": "deepnorm"}, "deepnorm"),
    ({"norm": "post", "width": 1}, "width >= 2"), ({"norm": "pre", "width": 1}, "width >= 2"),
    ({"arch": "transformer", "norm": "pre", "width": 1, "heads": 1}, "width >= 2"),
])
def test_model_config_rejects_bad_fields(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ModelConfig(**kwargs)


def test_bias_must_be_a_bool():
    with pytest.raises(TypeError, match="bias"):
        ModelConfig(bias="yes")


@pytest.mark.parametrize("kwargs, field", [
    ({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch_size"), ({"lr": 0.0}, "lr"),
    ({"lr": float("nan")}, "lr"), ({"optimizer": "lbfgs"}, "optimizer"),
    ({"weight_decay": -0.1}, "weight_decay"), ({"schedule": "step"}, "schedule"),
    ({"engine": "jit"}, "engine"),
])
def test_train_config_rejects_bad_fields(kwargs, field):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**kwargs)


def test_a_width_one_cnn_may_normalise_over_its_pixels():
    assert ModelConfig(arch="cnn", width=1, norm="post").width == 1


@pytest.mark.parametrize("n", [1, 4, 100])
def test_S5_mup_lr_scale_is_constant_for_sgd_and_inverse_sqrt_for_adam(n):
    assert mup_lr_scale(n, "sgd") == 1.0
    assert mup_lr_scale(n, "adamw") == pytest.approx(n ** -0.5, rel=1e-15)
    with pytest.raises(ValueError, match="optimizer"):
        mup_lr_scale(n, "lbfgs")
