"""D4 coverage and D5 joint scaling at small scale (teacher-student)."""

import math

import pytest
import torch

from numerics.config import ModelConfig, TrainConfig
from numerics.coverage import clopper_pearson, coverage_runs
from numerics.data import load_dataset
from numerics.joint_scaling import joint_scaling_point
from numerics.models import build_model
from numerics.train import fit
from theorems.rademacher import NetworkClass
from theorems.test_risk import hoeffding_slack, route_e_slack


def test_clopper_pearson_edges():
    lo, hi = clopper_pearson(0, 20, 0.05)
    assert lo == 0 and hi == pytest.approx(1 - 0.025 ** (1 / 20), rel=1e-9)
    lo, hi = clopper_pearson(20, 20, 0.05)
    assert hi == 1 and lo == pytest.approx(0.025 ** (1 / 20), rel=1e-9)
    with pytest.raises(ValueError):
        clopper_pearson(3, 2)


@pytest.fixture(scope="module")
def trained_small():
    data = load_dataset("teacher-student", seed=0, n_train=128, n_test=128)
    cfg = ModelConfig(arch="mlp", depth=1, width=8, norm="post", bias=False)
    model = build_model(cfg, data.in_dim, data.out_dim, generator=torch.Generator().manual_seed(0))
    train = TrainConfig(epochs=2, batch_size=64, lr=3e-3)
    fit(model, data, train, seed=0)
    return model, data, train


def test_D4_coverage_of_hoeffding_step_and_route_e(trained_small):
    model, data, _ = trained_small
    m, delta, clip = 64, 0.05, 4.0
    res = coverage_runs(model.double(), data, position=1, m=m, reps=20, clip=clip,
                        steps=[0.1, 0.3], n_pop=5000, generator=torch.Generator().manual_seed(1))
    hoeff = hoeffding_slack(m, delta, clip)
    hits = sum(r["train_jump"] <= res["pop_jump"] + hoeff for r in res["runs"])
    assert clopper_pearson(hits, 20, delta)[1] >= 1 - delta
    cls = NetworkClass(d=8, depth=2, hidden=8, in_dim=16, head_norm=10, embed_norm=10,
                       u_norm=10, v_norm=10, input_norm=res["max_input_norm"])
    s_e = route_e_slack(cls, m, delta, loss_bound=clip, loss_lipschitz=2 * math.sqrt(clip))
    assert all(r["pop_sel"] <= r["train_sel"] + s_e for r in res["runs"])
    assert all(r["train_sel"] <= r["train_old"] for r in res["runs"])


def test_D5_joint_scaling_point_records_everything(trained_small):
    model, data, train = trained_small
    point = joint_scaling_point(model.float(), data, train, TrainConfig(epochs=1, batch_size=64),
                                position=0, seed=0)
    assert point["depth"] == 1 and point["n_train"] == 128
    for key in ("expanded_test", "longer_test", "scratch_test", "snr"):
        assert math.isfinite(point[key])
    assert point["beats_longer"] == (point["expanded_test"] < point["longer_test"])
