"""Offline datasets: shapes, seeded splits, standardisation, the teacher-student population."""

import math

import pytest
import torch

from numerics.models.data import DATASETS, TeacherStudent, load_dataset


@pytest.mark.parametrize("name", DATASETS)
def test_dataset_shapes_and_determinism(name):
    a, b = load_dataset(name, seed=3), load_dataset(name, seed=3)
    assert a.name == name and a.task in ("classification", "regression")
    assert a.train_x.shape[0] == a.train_y.shape[0] and a.test_x.shape[0] == a.test_y.shape[0]
    for key in ("train_x", "train_y", "test_x", "test_y"):
        assert torch.equal(getattr(a, key), getattr(b, key))
    assert not torch.equal(a.train_y, load_dataset(name, seed=4).train_y)
    if a.task == "classification":
        assert a.train_y.dtype == torch.int64
        assert 0 <= int(a.train_y.min()) and int(a.train_y.max()) < a.out_dim
    else:
        assert a.train_y.shape == (a.n_train, a.out_dim)


def test_digits_are_standardised_on_the_training_split():
    data = load_dataset("digits", seed=0)
    assert data.train_x.shape == (1437, 64) and data.test_x.shape == (360, 64)
    mean, std = data.train_x.mean(0), data.train_x.std(0)
    assert torch.allclose(mean, torch.zeros(64), atol=1e-5)
    varying = std > 0
    assert torch.allclose(std[varying], torch.ones(int(varying.sum())), atol=1e-5)
    assert set(data.train_y.tolist()) == set(range(10))


def test_modular_addition_split_is_disjoint_and_labels_are_sums():
    data = load_dataset("modular-addition", seed=1)
    p = data.out_dim
    for x, y in ((data.train_x, data.train_y), (data.test_x, data.test_y)):
        assert torch.equal((x[:, 0] + x[:, 1]) % p, y) and torch.all(x[:, 2] == p)
    train = {tuple(r) for r in data.train_x.tolist()}
    test = {tuple(r) for r in data.test_x.tolist()}
    assert not train & test and len(train) + len(test) == p * p


def test_sizes_can_be_chosen():
    data = load_dataset("digits", seed=0, n_train=100, n_test=50)
    assert (data.n_train, data.n_test) == (100, 50)
    assert load_dataset("teacher-student", seed=0, n_train=7).n_train == 7


def test_teacher_is_fixed_and_sample_draws_fresh_population_data():
    a, b = load_dataset("teacher-student", seed=0), load_dataset("teacher-student", seed=1)
    assert isinstance(a, TeacherStudent) and torch.equal(a.W, b.W) and torch.equal(a.a, b.a)
    x1, y1 = a.sample(5, torch.Generator().manual_seed(9))
    x2, y2 = a.sample(5, torch.Generator().manual_seed(9))
    x3, _ = a.sample(5, torch.Generator().manual_seed(10))
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and not torch.equal(x1, x3)


def test_teacher_student_noise_has_the_stated_variance():
    """E (y - t(x))^2 = noise_std^2 = 0.01: the population-risk floor. Monte Carlo, |z| < 5."""
    data = load_dataset("teacher-student", seed=0)
    x, y = data.sample(200_000, torch.Generator().manual_seed(11))
    sq = ((y - data.teacher(x)) ** 2).double().flatten()
    se = float(sq.std()) / math.sqrt(sq.numel())
    z = (float(sq.mean()) - data.noise_std ** 2) / se
    assert abs(z) < 5 and se < 0.01 * data.noise_std ** 2
    signal = data.teacher(x).var()
    assert 0.2 < float(signal) < 5  # the teacher's output is O(1), well above the noise


@pytest.mark.parametrize("call, match", [
    (lambda: load_dataset("imagenet", seed=0), "unknown dataset"),
    (lambda: load_dataset("digits", seed=-1), "seed"),
    (lambda: load_dataset("digits", seed=0, n_train=0), "n_train"),
    (lambda: load_dataset("digits", seed=0, n_train=2000), "n_train"),
    (lambda: load_dataset("modular-addition", seed=0, n_test=2.5), "n_test"),
    (lambda: load_dataset("teacher-student", seed=0).sample(0, torch.Generator()), "n must"),
])
def test_bad_dataset_requests_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_mnist1d_signals_have_the_stated_shape_and_balanced_labels():
    data = load_dataset("mnist1d", seed=0)
    assert data.train_x.shape == (4000, 40) and data.test_x.shape == (1000, 40)
    counts = torch.bincount(data.train_y, minlength=10).double()
    # multinomial counts: each ~ 400 +- 19; 5 standard deviations either way
    assert torch.all((counts - 400).abs() < 5 * math.sqrt(4000 * 0.1 * 0.9))
    assert torch.isfinite(data.train_x).all() and float(data.train_x.abs().max()) < 4
