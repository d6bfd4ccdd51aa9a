"""Real image data (S7's data): Fashion-MNIST's IDX files, CIFAR-10's python batches, and the
NAME/val, NAME/test validation splits; fake files written here, the real data on a small slice."""

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from numerics.models import images
from numerics.models.data import load_dataset
from numerics.models.images import MissingData, read_cifar10, read_fashion_mnist


def _write_idx(path, array, magic, *, gz=False):
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as handle:
            handle.write(payload)
    else:
        path.write_bytes(payload)


def _fake_fashion(folder, n_train=20, n_test=10, *, gz=True, labels=None):
    rng = np.random.default_rng(0)
    stems = images.FASHION_FILES
    for split, n in (("train", n_train), ("test", n_test)):
        _write_idx(folder / stems[f"{split}_x"], rng.integers(0, 256, (n, 28, 28)),
                   images.IMAGE_MAGIC, gz=gz)
        y = rng.integers(0, 10, n) if labels is None else np.full(n, labels)
        _write_idx(folder / stems[f"{split}_y"], y, images.LABEL_MAGIC, gz=gz)


@pytest.fixture
def no_default_data(monkeypatch, tmp_path):
    monkeypatch.setattr(images, "DEBIAN_FASHION", tmp_path / "absent")
    monkeypatch.delenv("RESDEPTH_DATA", raising=False)
    images._fashion.cache_clear()
    images._cifar.cache_clear()
    yield
    images._fashion.cache_clear()
    images._cifar.cache_clear()


@pytest.mark.parametrize("gz", [True, False])
def test_S7_fashion_idx_files_are_read_and_checked(tmp_path, no_default_data, gz):
    _fake_fashion(tmp_path, gz=gz)
    train_x, train_y, test_x, test_y = read_fashion_mnist(tmp_path, sizes=(20, 10))
    assert train_x.shape == (20, 1, 28, 28) and test_x.shape == (10, 1, 28, 28)
    assert train_y.shape == (20,) and test_y.dtype == np.int64
    with pytest.raises(MissingData, match="shape"):
        read_fashion_mnist(tmp_path)  # the real sizes, 60,000 and 10,000, are announced nowhere


def test_S7_fashion_bad_magic_truncation_and_labels_are_refused(tmp_path, no_default_data):
    _fake_fashion(tmp_path, gz=False)
    path = tmp_path / images.FASHION_FILES["train_x"]
    raw = path.read_bytes()
    path.write_bytes(raw[:-5])
    with pytest.raises(MissingData, match="bytes of data"):
        read_fashion_mnist(tmp_path, sizes=(20, 10))
    path.write_bytes(struct.pack(">I", 2049) + raw[4:])
    images._fashion.cache_clear()
    with pytest.raises(MissingData, match="magic"):
        read_fashion_mnist(tmp_path, sizes=(20, 10))
    _fake_fashion(tmp_path, gz=False, labels=12)
    images._fashion.cache_clear()
    with pytest.raises(MissingData, match="labels outside"):
        read_fashion_mnist(tmp_path, sizes=(20, 10))


def test_S7_missing_fashion_says_how_to_get_it(tmp_path, no_default_data, monkeypatch):
    with pytest.raises(MissingData, match="apt-get install dataset-fashion-mnist") as error:
        load_dataset("fashion-mnist", seed=0, n_train=10)
    assert "\n" not in str(error.value)
    (tmp_path / "fashion-mnist").mkdir()
    _fake_fashion(tmp_path / "fashion-mnist")
    monkeypatch.setenv("RESDEPTH_DATA", str(tmp_path))
    assert images.fashion_folder() == tmp_path / "fashion-mnist"


def _cifar_batch(path, n, *, width=3072, seed=0):
    rng = np.random.default_rng(seed)
    batch = {b"data": rng.integers(0, 256, (n, width)).astype(np.uint8),
             b"labels": rng.integers(0, 10, n).tolist(), b"batch_label": b"fake"}
    path.write_bytes(pickle.dumps(batch))


def test_S7_cifar10_python_batches_from_data_dir(tmp_path, no_default_data):
    with pytest.raises(MissingData, match="cifar-10-python"):
        read_cifar10(tmp_path)
    _cifar_batch(tmp_path / "data_batch_1", 12)
    _cifar_batch(tmp_path / "data_batch_2", 8, seed=1)
    _cifar_batch(tmp_path / "test_batch", 6, seed=2)
    data = load_dataset("cifar10", seed=0, data_dir=tmp_path)
    assert data.train_x.shape == (20, 3072) and data.test_x.shape == (6, 3072)
    channels = data.train_x.reshape(20, 3, 32, 32)
    assert torch.allclose(channels.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    _cifar_batch(tmp_path / "test_batch", 6, width=100)
    images._cifar.cache_clear()
    with pytest.raises(MissingData, match="3072"):
        read_cifar10(tmp_path)


def test_S7_validation_split_is_carved_from_training_and_test_is_apart():
    val = load_dataset("mnist1d/val", seed=2, n_train=300)
    test = load_dataset("mnist1d/test", seed=2, n_train=300)
    assert val.n_train == test.n_train == 300 and val.n_test == 100
    assert torch.equal(val.train_x, test.train_x)
    train_rows = {tuple(r.tolist()) for r in val.train_x}
    assert not any(tuple(r.tolist()) in train_rows for r in val.test_x)
    assert torch.equal(test.test_x, load_dataset("mnist1d", seed=2, n_train=400).test_x)
    with pytest.raises(ValueError, match="NAME/val"):
        load_dataset("mnist1d/train", seed=0)


@pytest.mark.skipif(not all(images._idx_file(images.DEBIAN_FASHION, s)
                            for s in images.FASHION_FILES.values()),
                    reason="Debian's dataset-fashion-mnist is not installed")
def test_S7_real_fashion_mnist_slice():
    data = load_dataset("fashion-mnist", seed=0, n_train=500, n_test=200)
    assert data.train_x.shape == (500, 784) and data.test_x.shape == (200, 784)
    assert abs(float(data.train_x.mean())) < 1e-4 and abs(float(data.train_x.std()) - 1) < 1e-3
    assert set(data.train_y.tolist()) == set(range(10))
    again = load_dataset("fashion-mnist", seed=0, n_train=500, n_test=200)
    assert torch.equal(data.train_x, again.train_x)
