"""The planted teacher-student family of D5 (and D2's calibrations): at scale 0 the teacher is
the old model's function and G_pop = 0; at a small scale s > 0, <G_pop, V*> < 0."""

import pytest
import torch

from numerics.models.config import ModelConfig
from numerics.models.networks import build_model
from numerics.probes.expansion import insert_block, make_loss, per_example_gradients, v_name
from numerics.probes.planted_teacher import PlantedTeacher

LOSS = make_loss("regression")


def old_model(seed=0):
    cfg = ModelConfig(arch="mlp", depth=2, width=8, norm="post", bias=False)
    return build_model(cfg, 16, 1, generator=torch.Generator().manual_seed(seed)).double().eval()


@pytest.mark.parametrize("position", [0, 1, 2])
def test_D5_teacher_at_scale_zero_is_every_V_zero_expansion(position):
    old = old_model()
    teacher = PlantedTeacher(old, position, 0.0, noise_std=0.0,
                             generator=torch.Generator().manual_seed(1))
    probe = insert_block(old, position, generator=torch.Generator().manual_seed(2))
    x = torch.randn(64, 16, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    with torch.no_grad():
        assert torch.equal(teacher.teacher(x), probe(x))
    x, y = teacher.sample(256, torch.Generator().manual_seed(4))
    assert per_example_gradients(probe, position, x, y, LOSS).abs().max() == 0


def test_D5_planted_gradient_points_against_the_planted_direction():
    """In the teacher's own parametrisation G_pop = -2 E[J^T J] s V* + O(s^2): with noise-free
    labels <G, V*> = -2 s E||J[V*]||^2 (1 + O(s)) < 0; a block with another U sees G != 0."""
    old = old_model(5)
    s = 1e-3
    teacher = PlantedTeacher(old, 2, s, noise_std=0.0, generator=torch.Generator().manual_seed(6))
    x, y = teacher.sample(2000, torch.Generator().manual_seed(8))
    own = per_example_gradients(teacher.model, 2, x, y, LOSS)
    inner = float(own.mean(0) @ teacher.v_teacher.flatten()) / s
    with torch.no_grad():
        jv = (teacher.teacher(x) - teacher.model(x)) / s  # J[V*] + O(s)
    assert inner < 0
    assert inner == pytest.approx(-2 * s * float((jv**2).mean()), rel=1e-2)
    assert teacher.v_teacher.norm() == pytest.approx(s, rel=1e-12)
    probe = insert_block(old, 2, generator=torch.Generator().manual_seed(7))
    assert per_example_gradients(probe, 2, x, y, LOSS).mean(0).norm() > 0


def test_D5_dataset_is_float32_and_does_not_touch_the_old_model():
    old = old_model(9)
    before = {k: v.clone() for k, v in old.state_dict().items()}
    teacher = PlantedTeacher(old, 1, 2.0, noise_std=0.1, generator=torch.Generator().manual_seed(1))
    data = teacher.dataset(32, 16, torch.Generator().manual_seed(2))
    assert data.train_x.dtype == torch.float32 and data.test_y.shape == (16, 1)
    assert all(torch.equal(before[k], v) for k, v in old.state_dict().items())
    assert dict(teacher.model.named_parameters())[v_name(1)].abs().max() == 0


@pytest.mark.parametrize("kwargs", [{"scale": -1.0}, {"scale": float("nan")},
                                    {"noise_std": -0.1}])
def test_bad_input_is_rejected(kwargs):
    args = {"scale": 1.0, "noise_std": 0.1, **kwargs}
    with pytest.raises(ValueError):
        PlantedTeacher(old_model(), 2, args["scale"], noise_std=args["noise_std"],
                       generator=torch.Generator())
