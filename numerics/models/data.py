"""Offline datasets as full-batch tensors; nothing is downloaded, everything is fixed by a seed.

- ``digits``: scikit-learn's bundled 8x8 handwritten digits (1797 images, 10 classes); features
  standardised with the training split's mean and standard deviation; the split is a
  permutation drawn from ``seed``. The default real dataset (mlp and cnn).
- ``teacher-student``: regression y = t(x) + noise with Gaussian inputs x ~ N(0, I_16) and a
  fixed random teacher t(x) = a^T relu(W x) (32 hidden units, W ~ N(0, 1/16), a ~ N(0, 2/32),
  so Var t(x) is about 1) drawn from :data:`TEACHER_SEED`, label noise N(0, 0.1^2). The teacher
  is the same for every ``seed``; the seed draws the training and test samples, and
  :meth:`TeacherStudent.sample` draws fresh samples from the population, so population risk
  E (model(x) - y)^2 can be measured (its floor is the noise variance 0.01).
- ``modular-addition``: token sequences (a, b, =) with label (a + b) mod 23; vocabulary 24
  (``=`` is token 23); all 529 pairs, split by ``seed``. The Transformer's default task.
- ``mnist1d``: a procedural 1-D classification task in the style of Greydanus's MNIST-1D (our
  own generator and templates, not the published data): one of 10 template curves, upsampled to
  40 points, then randomly scaled, sheared, circularly shifted and corrupted by smooth and white
  noise (:func:`mnist1d_sample`). 4000 training and 1000 test signals, drawn from ``seed``.

>>> data = load_dataset("digits", seed=0)
>>> data.train_x.shape, data.test_x.shape, data.task, data.out_dim
(torch.Size([1437, 64]), torch.Size([360, 64]), 'classification', 10)
"""

import functools
import importlib.util
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

DATASETS = ("digits", "teacher-student", "modular-addition", "mnist1d")
IMAGE_DATASETS = ("fashion-mnist", "cifar10")
"""Read from files the user has (:mod:`numerics.models.images`), never generated or downloaded."""
SPLITS = ("val", "test")
VAL_STREAM = 0x7A1
DEFAULT_DATASET = {"mlp": "digits", "cnn": "digits", "transformer": "modular-addition",
                   "resnet": "digits", "resnet-proj": "digits"}
TASKS = ("classification", "regression")

TEACHER_SEED = 20251003
TEACHER_IN, TEACHER_HIDDEN, TEACHER_NOISE = 16, 32, 0.1
MODULUS = 23
MNIST1D_LENGTH = 40

__all__ = ["DATASETS", "DEFAULT_DATASET", "IMAGE_DATASETS", "Dataset", "TeacherStudent", "load_dataset",
           "mnist1d_sample"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train and test tensors of one task.

    ``task`` is "classification" (``*_y`` are int64 class ids in [0, out_dim)) or "regression"
    (``*_y`` are float tensors of shape (N, out_dim)); ``in_dim`` is the feature count, or the
    vocabulary size for token inputs (int64 of shape (N, T)).
    """

    name: str
    task: str
    in_dim: int
    out_dim: int
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    @property
    def n_train(self) -> int:
        return int(self.train_x.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.test_x.shape[0])

    def to(self, device) -> "Dataset":
        """The same dataset with its four tensors on ``device``."""
        return replace(self, **{k: getattr(self, k).to(device)
                                for k in ("train_x", "train_y", "test_x", "test_y")})


@dataclass(frozen=True, eq=False)
class TeacherStudent(Dataset):
    """The teacher-student regression task; :meth:`sample` draws from its population.

    y = a^T relu(W x) + eps, x ~ N(0, I), eps ~ N(0, noise_std^2); ``W`` (hidden, in_dim) and
    ``a`` (out_dim, hidden) are the teacher's weights.
    """

    W: torch.Tensor = field(default=None)
    a: torch.Tensor = field(default=None)
    noise_std: float = TEACHER_NOISE

    def teacher(self, x: torch.Tensor) -> torch.Tensor:
        """The noiseless target t(x) = a^T relu(W x), shape (N, out_dim)."""
        return torch.relu(x @ self.W.T.to(x)) @ self.a.T.to(x)

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` fresh population samples (x, y) on the CPU, drawn from ``generator``."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        x = torch.randn(n, self.in_dim, generator=generator)
        noise = torch.randn(n, self.out_dim, generator=generator)
        return x, self.teacher(x) + self.noise_std * noise


def _split(total: int, n_train: int | None, n_test: int | None, default_test: int,
           generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Disjoint index sets (train, test) of a seeded permutation of range(total)."""
    n_test = default_test if n_test is None else n_test
    n_train = total - n_test if n_train is None else n_train
    if n_train < 1 or n_test < 1 or n_train + n_test > total:
        raise ValueError(f"n_train={n_train} and n_test={n_test} must be >= 1 with "
                         f"n_train + n_test <= {total} examples")
    perm = torch.randperm(total, generator=generator)
    return perm[n_test:n_test + n_train], perm[:n_test]


@functools.lru_cache(maxsize=1)
def _digits_table() -> np.ndarray:
    """scikit-learn's bundled ``digits.csv.gz`` (1797 rows: 64 pixels, then the label).

    Read directly (what ``sklearn.datasets.load_digits`` reads) to avoid importing scikit-learn.
    """
    spec = importlib.util.find_spec("sklearn")
    path = None if spec is None else Path(spec.origin).parent / "datasets/data/digits.csv.gz"
    if path is None or not path.is_file():
        raise ValueError("the digits dataset needs scikit-learn installed (it ships the data)")
    return np.loadtxt(path, delimiter=",")


def _digits(seed: int, n_train, n_test) -> Dataset:
    table = _digits_table()
    x = torch.tensor(table[:, :-1], dtype=torch.float32)
    y = torch.tensor(table[:, -1], dtype=torch.int64)
    train, test = _split(len(y), n_train, n_test, 360, torch.Generator().manual_seed(seed))
    mean, std = x[train].mean(0), x[train].std(0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    x = (x - mean) / std
    return Dataset("digits", "classification", 64, 10, x[train], y[train], x[test], y[test])


def _teacher_student(seed: int, n_train, n_test) -> TeacherStudent:
    teacher_gen = torch.Generator().manual_seed(TEACHER_SEED)
    W = torch.randn(TEACHER_HIDDEN, TEACHER_IN, generator=teacher_gen) / TEACHER_IN ** 0.5
    a = torch.randn(1, TEACHER_HIDDEN, generator=teacher_gen) * (2.0 / TEACHER_HIDDEN) ** 0.5
    n_train = 512 if n_train is None else n_train
    n_test = 2048 if n_test is None else n_test
    if n_train < 1 or n_test < 1:
        raise ValueError(f"n_train and n_test must be >= 1, got {n_train} and {n_test}")
    empty = torch.empty(0)
    task = TeacherStudent("teacher-student", "regression", TEACHER_IN, 1,
                          empty, empty, empty, empty, W=W, a=a)
    gen = torch.Generator().manual_seed(seed)
    train_x, train_y = task.sample(n_train, gen)
    test_x, test_y = task.sample(n_test, gen)
    return replace(task, train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y)


def _modular_addition(seed: int, n_train, n_test) -> Dataset:
    p = MODULUS
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    a, b = a.reshape(-1), b.reshape(-1)
    x = torch.stack([a, b, torch.full_like(a, p)], dim=1)
    y = (a + b) % p
    total = p * p
    train, test = _split(total, n_train, n_test, total // 5, torch.Generator().manual_seed(seed))
    return Dataset("modular-addition", "classification", p + 1, p,
                   x[train], y[train], x[test], y[test])


def _mnist1d_templates() -> torch.Tensor:
    """Ten distinct curves on t in [0, 1], shape (10, MNIST1D_LENGTH), each scaled to max |.| 1."""
    t = torch.linspace(0, 1, MNIST1D_LENGTH, dtype=torch.float64)
    curves = torch.stack([
        torch.exp(-((t - 0.5) / 0.12) ** 2),                       # 0: one bump
        (t > 0.5).double() * 2 - 1,                                # 1: step up
        1 - 2 * (t > 0.35).double(),                               # 2: step down
        2 * t - 1,                                                 # 3: ramp up
        torch.abs(2 * t - 1) * 2 - 1,                              # 4: V shape
        torch.exp(-((t - 0.3) / 0.08) ** 2) + torch.exp(-((t - 0.7) / 0.08) ** 2),  # 5: two bumps
        -torch.exp(-((t - 0.5) / 0.2) ** 2),                       # 6: a wide dip
        torch.sin(2 * torch.pi * t),                               # 7: one sine period
        torch.cos(3 * torch.pi * t),                               # 8: 1.5 cosine periods
        torch.sign(torch.sin(4 * torch.pi * t + 0.1)),             # 9: square wave
    ])
    return (curves / curves.abs().amax(dim=1, keepdim=True)).float()


def mnist1d_sample(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` MNIST-1D-style signals (n, 40) and labels (n,), drawn from ``generator``.

    x = roll(s * template_y + k (t - 1/2), r) + 0.25 smooth noise + 0.1 white noise, with
    s ~ U(0.7, 1.3), k ~ U(-1, 1), r uniform in [-8, 8].
    """
    length = MNIST1D_LENGTH
    y = torch.randint(0, 10, (n,), generator=generator)
    scale = 0.7 + 0.6 * torch.rand(n, 1, generator=generator)
    shear = 2 * torch.rand(n, 1, generator=generator) - 1
    shift = torch.randint(-8, 9, (n, 1), generator=generator)
    t = torch.linspace(0, 1, length)
    x = scale * _mnist1d_templates()[y] + shear * (t - 0.5)
    x = torch.gather(x, 1, (torch.arange(length) - shift) % length)
    kernel = torch.exp(-torch.arange(-4, 5, dtype=torch.float32) ** 2 / 4.0)
    white = torch.randn(n, 1, length + 8, generator=generator)
    smooth = torch.nn.functional.conv1d(white, (kernel / kernel.norm()).view(1, 1, -1))[:, 0]
    x = x + 0.25 * smooth + 0.1 * torch.randn(n, length, generator=generator)
    return x, y


def _mnist1d(seed: int, n_train, n_test) -> Dataset:
    n_train = 4000 if n_train is None else n_train
    n_test = 1000 if n_test is None else n_test
    gen = torch.Generator().manual_seed(seed)
    train_x, train_y = mnist1d_sample(n_train, gen)
    test_x, test_y = mnist1d_sample(n_test, gen)
    return Dataset("mnist1d", "classification", MNIST1D_LENGTH, 10,
                   train_x, train_y, test_x, test_y)


def _images(name: str, files, seed: int, n_train, n_test) -> Dataset:
    """An image dataset from (train x, train y, test x, test y) uint8 arrays (N, C, H, W)."""
    train_x, train_y, test_x, test_y = files
    n_train = len(train_y) if n_train is None else n_train
    n_test = len(test_y) if n_test is None else n_test
    if n_train > len(train_y) or n_test > len(test_y):
        raise ValueError(f"{name} has {len(train_y)} training and {len(test_y)} test images, "
                         f"asked for {n_train} and {n_test}")
    pick = torch.randperm(len(train_y), generator=torch.Generator().manual_seed(seed))[:n_train]
    x = torch.from_numpy(train_x[pick.numpy()]).float() / 255
    t = torch.from_numpy(test_x[:n_test].copy()).float() / 255
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    std = x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    x, t = ((x - mean) / std).flatten(1), ((t - mean) / std).flatten(1)
    return Dataset(name, "classification", x.shape[1], 10, x,
                   torch.from_numpy(train_y[pick.numpy()]), t,
                   torch.from_numpy(test_y[:n_test].copy()))


def _fashion_mnist(seed: int, n_train, n_test, data_dir=None) -> Dataset:
    from numerics.models.images import read_fashion_mnist

    return _images("fashion-mnist", read_fashion_mnist(data_dir), seed, n_train, n_test)


def _cifar10(seed: int, n_train, n_test, data_dir=None) -> Dataset:
    from numerics.models.images import read_cifar10

    return _images("cifar10", read_cifar10(data_dir), seed, n_train, n_test)


LOADERS = {"digits": _digits, "teacher-student": _teacher_student,
           "modular-addition": _modular_addition, "mnist1d": _mnist1d,
           "fashion-mnist": _fashion_mnist, "cifar10": _cifar10}
DEFAULT_TRAIN = {"digits": 1437, "modular-addition": 424, "mnist1d": 4000,
                 "fashion-mnist": 60000, "cifar10": 50000}


def validation_size(name: str, n_train: int | None) -> int:
    """n_val of ``NAME/val``: max(n_train // 4, 100), or a sixth of the default training set."""
    if n_train is None:
        return DEFAULT_TRAIN[name] // 6
    return max(n_train // 4, 100)


def _split_variant(name: str, split: str, seed: int, n_train, n_test, data_dir) -> Dataset:
    """``name/val`` or ``name/test`` (see the module docstring)."""
    n_val = validation_size(name, n_train)
    total = None if n_train is None else n_train + n_val
    # /val replaces the test set: the base loads one test example only (the same training set)
    base = _load(name, seed, total, 1 if split == "val" else n_test, data_dir)
    if base.task != "classification":
        raise ValueError(f"validation splits are for classification datasets, not {name!r}")
    if base.n_train <= n_val:
        raise ValueError(f"{name} has {base.n_train} training examples: too few to set "
                         f"{n_val} aside for validation")
    perm = torch.randperm(base.n_train, generator=torch.Generator().manual_seed(seed ^ VAL_STREAM))
    held, kept = perm[:n_val], perm[n_val:]
    test_x, test_y = ((base.train_x[held], base.train_y[held]) if split == "val"
                      else (base.test_x, base.test_y))
    return replace(base, name=f"{name}/{split}", train_x=base.train_x[kept],
                   train_y=base.train_y[kept], test_x=test_x, test_y=test_y)


def _load(name, seed, n_train, n_test, data_dir) -> Dataset:
    if name in IMAGE_DATASETS:
        return LOADERS[name](seed, n_train, n_test, data_dir)
    return LOADERS[name](seed, n_train, n_test)


def load_dataset(name: str, *, seed: int, n_train: int | None = None,
                 n_test: int | None = None, data_dir=None) -> Dataset:
    """The dataset ``name`` (one of :data:`DATASETS`, or ``NAME/val`` / ``NAME/test``), split
    and sampled by ``seed``.

    ``n_train``/``n_test`` override the default sizes (digits: 1437/360; teacher-student:
    512/2048; modular-addition: 424/105; mnist1d: 4000/1000; fashion-mnist: 60000/10000;
    cifar10: 50000/10000). ``data_dir``: where fashion-mnist's and cifar10's files are
    (:mod:`numerics.models.images`; their absence raises its ``MissingData``, a ValueError).
    """
    base, _, split = name.partition("/")
    if split and (split not in SPLITS or base not in LOADERS):
        raise ValueError(f"unknown dataset {name!r}; a split is NAME/val or NAME/test with NAME "
                         f"one of {', '.join(LOADERS)}")
    if name not in LOADERS and not split:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    for arg, value in (("n_train", n_train), ("n_test", n_test)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ValueError(f"{arg} must be a positive integer, got {value!r}")
    if split:
        return _split_variant(base, split, seed, n_train, n_test, data_dir)
    return _load(name, seed, n_train, n_test, data_dir)
