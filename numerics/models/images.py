"""Real image data sets read from files the user has: Fashion-MNIST (IDX) and CIFAR-10 (pickles).

Nothing is downloaded. Where the files are looked for, in order: the ``data_dir`` argument
(the CLI's ``--data-dir``), ``$RESDEPTH_DATA`` (the folder itself or its ``fashion-mnist/`` /
``cifar-10-batches-py/`` sub-folder), and for Fashion-MNIST Debian's ``dataset-fashion-mnist``
package location ``/usr/share/datasets/fashion-mnist/``.

- **Fashion-MNIST** (Xiao, Rasul, Vollgraf 2017): ``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, gzipped
  (``.gz``) or not. IDX format: big-endian magic 0x00000803 (2051: unsigned bytes, 3 dims) for
  images with counts (N, 28, 28), 0x00000801 (2049) for labels with count N; the reader checks
  the magic numbers, that the payload has exactly the announced size, that the training set has
  60,000 images and the test set 10,000, that images and labels agree in count, and that every
  label is in 0..9.
- **CIFAR-10** (Krizhevsky 2009), the "python version": ``cifar-10-batches-py/data_batch_1..5``
  and ``test_batch``, each a pickle of a dict with ``b"data"`` (N, 3072) uint8 (1024 red, 1024
  green, 1024 blue values of a 32 x 32 image, row-major) and ``b"labels"`` (N ints in 0..9).
  Every batch present is read (a user may hold fewer than five training batches); the checks
  are the row length 3072, equal counts, labels in 0..9.

Pixels are scaled to [0, 1]; :mod:`numerics.models.data` standardises them with the training
split's per-channel mean and standard deviation and flattens each image (channels first).
"""

import functools
import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np

__all__ = ["DEBIAN_FASHION", "ImageFiles", "MissingData", "read_cifar10", "read_fashion_mnist"]

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = {"train_x": "train-images-idx3-ubyte", "train_y": "train-labels-idx1-ubyte",
                 "test_x": "t10k-images-idx3-ubyte", "test_y": "t10k-labels-idx1-ubyte"}
FASHION_SIZES = {"train": 60000, "test": 10000}
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
CLASSES = 10
FASHION_HOWTO = ("Fashion-MNIST not found: install Debian's package (sudo apt-get install "
                 "dataset-fashion-mnist, files in /usr/share/datasets/fashion-mnist/), or put the "
                 "four IDX files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], "
                 "t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]) from "
                 "https://github.com/zalandoresearch/fashion-mnist in a folder and pass "
                 "--data-dir DIR or set RESDEPTH_DATA=DIR")
CIFAR_HOWTO = ("CIFAR-10 not found: download the python version (cifar-10-python.tar.gz) from "
               "https://www.cs.toronto.edu/~kriz/cifar.html, unpack it and pass --data-dir DIR "
               "(DIR holding data_batch_1..5 and test_batch, or their cifar-10-batches-py/ "
               "folder) or set RESDEPTH_DATA=DIR")


class MissingData(ValueError):
    """The data set's files are absent or malformed (the message says how to get them)."""


ImageFiles = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""(train images (N, C, H, W) uint8, train labels (N,) int64, test images, test labels)."""


def _candidates(data_dir, sub: str, default: Path | None) -> list[Path]:
    roots = [Path(p) for p in (data_dir, os.environ.get("RESDEPTH_DATA")) if p]
    found = [q for root in roots for q in (root, root / sub)]
    return found + ([default] if default is not None else [])


def _idx_file(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _read_idx(path: Path, magic: int, count: int, shape: tuple[int, ...]) -> np.ndarray:
    """The uint8 array of an IDX file, after checking magic number, counts and payload size."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:
        raise MissingData(f"cannot read {path}: {error}") from None
    dims = magic & 0xFF
    if len(raw) < 4 + 4 * dims or struct.unpack(">I", raw[:4])[0] != magic:
        raise MissingData(f"{path} is not an IDX file with magic number {magic:#010x}")
    sizes = struct.unpack(f">{dims}I", raw[4:4 + 4 * dims])
    if sizes != (count, *shape):
        raise MissingData(f"{path} holds shape {sizes}, expected {(count, *shape)}")
    payload = raw[4 + 4 * dims:]
    if len(payload) != int(np.prod(sizes)):
        raise MissingData(f"{path}: {len(payload)} bytes of data, expected {int(np.prod(sizes))}")
    return np.frombuffer(payload, dtype=np.uint8).reshape(sizes)


def _labels(values, where: str) -> np.ndarray:
    labels = np.asarray(values, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= CLASSES):
        raise MissingData(f"{where}: labels outside 0..{CLASSES - 1}")
    return labels


def fashion_folder(data_dir=None) -> Path:
    """The first candidate folder holding all four Fashion-MNIST files (MissingData if none)."""
    for folder in _candidates(data_dir, "fashion-mnist", DEBIAN_FASHION):
        if all(_idx_file(folder, stem) for stem in FASHION_FILES.values()):
            return folder
    raise MissingData(FASHION_HOWTO)


@functools.lru_cache(maxsize=2)
def _fashion(folder: Path, sizes: tuple[int, int]) -> ImageFiles:
    out = {}
    for split, count in zip(("train", "test"), sizes):
        images = _read_idx(_idx_file(folder, FASHION_FILES[f"{split}_x"]), IMAGE_MAGIC, count,
                           (28, 28))
        labels = _read_idx(_idx_file(folder, FASHION_FILES[f"{split}_y"]), LABEL_MAGIC, count, ())
        out[split] = (images[:, None], _labels(labels, f"{folder} ({split})"))
    return (*out["train"], *out["test"])


def read_fashion_mnist(data_dir=None, *, sizes: tuple[int, int] | None = None) -> ImageFiles:
    """Fashion-MNIST's four arrays; ``sizes`` = (train, test) counts the files must announce
    (default 60,000 and 10,000; tests pass the sizes of the small files they write)."""
    sizes = (FASHION_SIZES["train"], FASHION_SIZES["test"]) if sizes is None else tuple(sizes)
    return _fashion(fashion_folder(data_dir), sizes)


def cifar_folder(data_dir=None) -> Path:
    """The first candidate folder holding ``test_batch`` and ``data_batch_1`` (MissingData if none)."""
    for folder in _candidates(data_dir, "cifar-10-batches-py", None):
        if (folder / "test_batch").is_file() and (folder / "data_batch_1").is_file():
            return folder
    raise MissingData(CIFAR_HOWTO)


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
        data, labels = np.asarray(batch[b"data"]), batch[b"labels"]
    except (OSError, EOFError, pickle.UnpicklingError, KeyError, TypeError) as error:
        raise MissingData(f"{path} is not a CIFAR-10 python batch: {error!r}") from None
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise MissingData(f"{path}: data must be uint8 rows of 3072 values, got {data.shape}")
    if len(labels) != data.shape[0]:
        raise MissingData(f"{path}: {data.shape[0]} images but {len(labels)} labels")
    return data.reshape(-1, 3, 32, 32), _labels(labels, str(path))


@functools.lru_cache(maxsize=1)
def _cifar(folder: Path) -> ImageFiles:
    train = [_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)
             if (folder / f"data_batch_{i}").is_file()]
    test_x, test_y = _cifar_batch(folder / "test_batch")
    return (np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]),
            test_x, test_y)


def read_cifar10(data_dir=None) -> ImageFiles:
    """CIFAR-10's four arrays from the python batches (see the module docstring)."""
    return _cifar(cifar_folder(data_dir))
