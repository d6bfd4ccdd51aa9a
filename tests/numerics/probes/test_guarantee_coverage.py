"""D4 coverage and D5 joint scaling at small scale (planted teacher-student family)."""

import math

import pytest
import torch

from numerics.models.config import ModelConfig, TrainConfig
from numerics.models.networks import build_model
from numerics.probes.guarantee_coverage import clopper_pearson, coverage_runs
from numerics.probes.joint_scaling import joint_scaling_point, t_interval
from numerics.probes.planted_teacher import PlantedTeacher
from theorems.guarantees import (
    hoeffding_slack,
    restricted_rademacher,
    restricted_route_e_slack,
)


def test_clopper_pearson_edges():
    lo, hi = clopper_pearson(0, 20, 0.05)
    assert lo == 0 and hi == pytest.approx(1 - 0.025 ** (1 / 20), rel=1e-9)
    lo, hi = clopper_pearson(20, 20, 0.05)
    assert hi == 1 and lo == pytest.approx(0.025 ** (1 / 20), rel=1e-9)
    with pytest.raises(ValueError):
        clopper_pearson(3, 2)


@pytest.fixture(scope="module")
def old():
    cfg = ModelConfig(arch="mlp", depth=1, width=8, norm="post", bias=False)
    return build_model(cfg, 16, 1, generator=torch.Generator().manual_seed(0)).double().eval()


def test_D4_coverage_of_hoeffding_step_and_restricted_route_e(old):
    teacher = PlantedTeacher(old, 1, 4.0, noise_std=0.1, generator=torch.Generator().manual_seed(1))
    m, delta, clip = 512, 0.05, 0.5
    res = coverage_runs(old, teacher.sample, position=1, m=m, reps=20, clip=clip,
                        steps=[0.05, 0.1], n_pop=5000, generator=torch.Generator().manual_seed(2))
    assert res["beta"] == 0.1 and len(res["runs"]) == 20
    hoeff = hoeffding_slack(m, delta, clip)
    hits = sum(r["train_jump"] <= res["pop_jump"] + hoeff for r in res["runs"])
    assert clopper_pearson(hits, 20, delta)[1] >= 1 - delta
    for run in res["runs"]:
        rad = restricted_rademacher(run["q"], m, beta=0.1, lam=1.0, d=8)
        assert run["pop_sel"] <= run["train_sel"] + restricted_route_e_slack(
            rad, m, delta, loss_bound=clip)
        assert run["train_sel"] <= run["train_old"] and run["q"] > 0
    assert res["pop_old"] > res["pop_jump"]  # the planted signal gives a population margin


def test_D5_joint_scaling_point_records_everything(old):
    teacher = PlantedTeacher(old, 1, 2.0, noise_std=0.1, generator=torch.Generator().manual_seed(3))
    gen = torch.Generator().manual_seed(5)
    data, held = teacher.dataset(64, 128, gen), teacher.sample(64, gen)
    point = joint_scaling_point(old.float(), data, held, TrainConfig(epochs=1, batch_size=64),
                                TrainConfig(epochs=1, batch_size=64), position=1, seed=0)
    assert point["depth"] == 1 and point["m"] == 64
    for key in ("expanded_test", "longer_test", "scratch_test", "z", "old_test"):
        assert math.isfinite(point[key])
    assert point["observed"] == (point["z"] < -1.6448536269514722)
    assert not any(point[f"{k}_diverged"] for k in ("expanded", "longer", "scratch"))


def test_D5_a_diverged_run_has_no_test_loss(old):
    """A learning rate that makes training blow up is reported as diverged, never as a number."""
    teacher = PlantedTeacher(old, 1, 2.0, noise_std=0.1, generator=torch.Generator().manual_seed(4))
    gen = torch.Generator().manual_seed(6)
    data, held = teacher.dataset(64, 64, gen), teacher.sample(64, gen)
    point = joint_scaling_point(old.float(), data, held, TrainConfig(epochs=1, batch_size=64),
                                TrainConfig(epochs=2, batch_size=8, lr=1e30, optimizer="sgd"),
                                position=1, seed=1)
    for name in ("expanded", "longer"):
        assert point[f"{name}_diverged"] and point[f"{name}_test"] is None


def test_D5_t_interval_exact_values():
    mean, lo, hi = t_interval([1.0, 2.0, 3.0], 0.95)
    assert mean == 2.0 and hi - mean == pytest.approx(4.302652729911275 / math.sqrt(3), rel=1e-9)
    assert lo == pytest.approx(2 * mean - hi, rel=1e-15)
    with pytest.raises(ValueError):
        t_interval([1.0])
    with pytest.raises(ValueError):
        t_interval([1.0, float("nan")])
