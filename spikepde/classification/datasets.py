"""Classification data sets for the spiking-engine benchmarks, with honest splits.

Every loader returns a :class:`ClassificationData` with three disjoint splits:

* **test**: fixed by the data set (MNIST/Fashion-MNIST ``t10k-*``, CIFAR-10 ``test_batch.bin``)
  or, for ``digits``, a stratified 20 % split drawn with a *fixed* seed (``SPLIT_SEED``), so every
  method and every training seed is scored on the same images;
* **validation**: a stratified fraction (default 10 %) carved out of the *training* part, also
  with the fixed seed; model selection, early stopping and the class-aware adaptation read only
  this split;
* **train**: the rest.

Pixel values are scaled to [0, 1] by the format's fixed range (16 for digits, 255 otherwise),
which uses no statistic of any split. Data-dependent normalisation (per-channel mean/std) is
computed later from the training split only (:func:`standardise`).

File formats (no pickles are ever loaded):

* **IDX** (MNIST, Fashion-MNIST): big-endian header ``0x00 0x00 <type> <ndim>`` (type ``0x08`` =
  unsigned byte), then ``ndim`` big-endian uint32 sizes, then the data in C order. Image files
  have magic ``0x00000803`` (3 dims), label files ``0x00000801`` (1 dim). Plain or gzip'd.
* **CIFAR-10 binary**: records of 1 label byte + 3072 pixel bytes (1024 red, 1024 green,
  1024 blue, each a row-major 32×32 plane); ``data_batch_1.bin`` … ``data_batch_5.bin`` and
  ``test_batch.bin``, usually in a folder ``cifar-10-batches-bin``.
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

SPLIT_SEED = 0          # fixed: splits never depend on the training seed
DIGITS_TEST_FRACTION = 0.2
DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")

_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IDX_SOURCES = {
    "mnist": "http://yann.lecun.com/exdb/mnist/ (mirror: https://ossci-datasets.s3.amazonaws.com/mnist/)",
    "fashion-mnist": "https://github.com/zalandoresearch/fashion-mnist (data/fashion/)",
}
_IDX_SUBDIRS = {"mnist": ("mnist", "MNIST/raw", "MNIST"),
                "fashion-mnist": ("fashion-mnist", "fashion_mnist", "FashionMNIST/raw", "FashionMNIST")}
_CIFAR_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
_CIFAR_TEST = "test_batch.bin"
_CIFAR_RECORD = 1 + 3 * 32 * 32
_CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                  "dog", "frog", "horse", "ship", "truck")
_FASHION_CLASSES = ("t-shirt/top", "trouser", "pullover", "dress", "coat",
                    "sandal", "shirt", "sneaker", "bag", "ankle boot")


@dataclass
class ClassificationData:
    """Three disjoint splits of a labelled image data set.

    Attributes:
        name: data set name.
        X_train, X_val, X_test: ``[N, *shape]`` float32 arrays with values in [0, 1].
        y_train, y_val, y_test: ``[N]`` int64 labels in ``0..C−1``.
        classes: class names (length C).
        shape: the shape of one sample, e.g. ``(1, 8, 8)`` or ``(3, 32, 32)``.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    shape: tuple[int, ...]

    @property
    def n_classes(self) -> int:
        """Number of classes C."""
        return len(self.classes)

    def sizes(self) -> dict[str, int]:
        """Number of samples per split."""
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}


def load_dataset(name: str = "digits", data_dir: str | os.PathLike | None = None,
                 val_fraction: float = 0.1, limit: int | None = None) -> ClassificationData:
    """Load a data set and split it into train / validation / test.

    Args:
        name: ``digits`` (scikit-learn's bundled 8×8 digits, offline), ``mnist``,
            ``fashion-mnist`` or ``cifar10``.
        data_dir: folder holding the files of the last three (see module docstring); the loader
            also looks in the usual sub-folders (``mnist/``, ``MNIST/raw``, ``cifar-10-batches-bin``…).
        val_fraction: fraction of the training part held out for validation (stratified,
            fixed seed).
        limit: keep at most this many training samples (before the validation split) and test
            samples; for smoke runs. The kept subset is a fixed stratified draw.
    Raises:
        DataError: a file is missing or malformed (the message names the files and sources).
        ValueError: unknown data set name.
    """
    key = name.lower().replace("_", "-")
    if key == "digits":
        X_tr, y_tr, X_te, y_te, classes, shape = _load_digits()
    elif key in ("mnist", "fashion-mnist"):
        X_tr, y_tr, X_te, y_te = _load_idx_dataset(key, data_dir)
        classes = _FASHION_CLASSES if key == "fashion-mnist" else tuple(str(i) for i in range(10))
        shape = (1, 28, 28)
    elif key in ("cifar10", "cifar-10"):
        key = "cifar10"
        X_tr, y_tr, X_te, y_te = _load_cifar10(data_dir)
        classes, shape = _CIFAR_CLASSES, (3, 32, 32)
    else:
        raise ValueError(f"unknown data set '{name}'; choose one of {', '.join(DATASETS)}")
    if limit is not None:
        X_tr, y_tr = _subsample(X_tr, y_tr, limit)
        X_te, y_te = _subsample(X_te, y_te, limit)
    train_idx, val_idx = stratified_split(y_tr, val_fraction, SPLIT_SEED)
    return ClassificationData(key, X_tr[train_idx], y_tr[train_idx], X_tr[val_idx], y_tr[val_idx],
                              X_te, y_te, tuple(classes), tuple(shape))


def stratified_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(keep, held_out)`` with ``round(fraction·n_k)`` of each class k held out.

    Each class's indices are shuffled with ``numpy.random.default_rng(seed)`` and the first
    ``max(1, round(fraction·n_k))`` are held out (none when ``fraction == 0``); both index lists
    are returned sorted.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"split fraction must lie in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    keep, held = [], []
    for k in np.unique(y):
        idx = np.flatnonzero(y == k)
        rng.shuffle(idx)
        n_out = 0 if fraction == 0 else min(len(idx) - 1, max(1, round(fraction * len(idx))))
        held.append(idx[:n_out])
        keep.append(idx[n_out:])
    return np.sort(np.concatenate(keep)), np.sort(np.concatenate(held))


def standardise(X_train: np.ndarray, *others: np.ndarray, eps: float = 1e-6) -> tuple[tuple[np.ndarray, ...], dict]:
    """Per-channel ``(x − μ_c)/(σ_c + eps)`` with μ, σ from ``X_train`` only, flattened to ``[N, D]``.

    The one normalisation of the classification protocol (every method, the command line and
    the benchmarks): arrays are ``[N, C, ...]`` (channel axis 1); each channel's mean and
    standard deviation over the training split's samples and positions is applied to every
    array. Returns the float32 arrays and the statistics (for ``config.json``).
    """
    axes = (0,) + tuple(range(2, X_train.ndim))
    mean = X_train.mean(axis=axes, keepdims=True)
    std = X_train.std(axis=axes, keepdims=True) + eps
    arrays = tuple(((X - mean) / std).reshape(len(X), -1).astype(np.float32, copy=False)
                   for X in (X_train,) + others)
    stats = {"per_channel_mean": mean.ravel().tolist(), "per_channel_std": std.ravel().tolist(),
             "from": "training split only"}
    return arrays, stats


# --------------------------------------------------------------------------- digits
def _load_digits():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = (bunch.images.astype(np.float32) / 16.0)[:, None]          # [N, 1, 8, 8] in [0, 1]
    y = bunch.target.astype(np.int64)
    train_idx, test_idx = stratified_split(y, DIGITS_TEST_FRACTION, SPLIT_SEED)
    return X[train_idx], y[train_idx], X[test_idx], y[test_idx], tuple(str(i) for i in range(10)), (1, 8, 8)


def _subsample(X: np.ndarray, y: np.ndarray, limit: int) -> tuple[np.ndarray, np.ndarray]:
    if limit >= len(y):
        return X, y
    _, keep = stratified_split(y, limit / len(y), SPLIT_SEED + 1)
    return X[keep], y[keep]


# --------------------------------------------------------------------------- IDX
def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file of unsigned bytes (plain or ``.gz``) into a ``uint8`` array.

    Raises:
        DataError: bad magic number, unsupported element type, or a size that does not match
            the header.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read IDX file ({exc})") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code != 0x08:
        raise DataError(f"{path}: IDX element type 0x{dtype_code:02x} unsupported (expected 0x08, ubyte)")
    header = 4 + 4 * ndim
    if ndim < 1 or len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(dims))
    if len(raw) - header != expected:
        raise DataError(f"{path}: IDX header announces {dims} = {expected} bytes of data, "
                        f"file holds {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find_file(folders: list[Path], stem: str) -> Path | None:
    for folder in folders:
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _candidate_folders(data_dir, subdirs) -> list[Path]:
    if data_dir is None:
        return []
    root = Path(data_dir).expanduser()
    return [root / s for s in subdirs] + [root]


def _load_idx_dataset(key: str, data_dir):
    folders = _candidate_folders(data_dir, _IDX_SUBDIRS[key])
    found = {role: _find_file(folders, stem) for role, stem in _IDX_FILES.items()}
    missing = [_IDX_FILES[r] for r, p in found.items() if p is None]
    if missing:
        where = "no --data-dir given" if data_dir is None else f"looked in {', '.join(map(str, folders))}"
        raise DataError(
            f"{key}: missing IDX file(s) {', '.join(missing)} (plain or .gz; {where}). "
            f"Expected the four files {', '.join(_IDX_FILES.values())}; they are usually obtained "
            f"from {_IDX_SOURCES[key]}.")
    arrays = {role: read_idx(path) for role, path in found.items()}
    out = []
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DataError(f"{key}: {split} images {images.shape} and labels {labels.shape} do not match "
                            "(expected [N, H, W] and [N])")
        if labels.size and labels.max() > 9:
            raise DataError(f"{key}: {split} labels must lie in 0..9, found {labels.max()}")
        out += [(images.astype(np.float32) / 255.0)[:, None], labels.astype(np.int64)]
    return tuple(out)


# --------------------------------------------------------------------------- CIFAR-10
def read_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 binary batch → (``uint8 [N, 3, 32, 32]``, ``int64 [N]``).

    Raises:
        DataError: file size not a multiple of the 3073-byte record, or a label > 9.
    """
    path = Path(path)
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % _CIFAR_RECORD:
        raise DataError(f"{path}: {raw.size} bytes is not a whole number of CIFAR-10 records "
                        f"({_CIFAR_RECORD} bytes each: 1 label + 3072 pixels)")
    records = raw.reshape(-1, _CIFAR_RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise DataError(f"{path}: CIFAR-10 labels must lie in 0..9, found {labels.max()}")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def _load_cifar10(data_dir):
    folders = _candidate_folders(data_dir, ("cifar-10-batches-bin", "cifar10/cifar-10-batches-bin", "cifar10"))
    names = _CIFAR_TRAIN + (_CIFAR_TEST,)
    folder = next((f for f in folders if all((f / n).is_file() for n in names)), None)
    if folder is None:
        where = "no --data-dir given" if data_dir is None else f"looked in {', '.join(map(str, folders))}"
        raise DataError(
            f"cifar10: missing binary batch file(s) ({where}). Expected {', '.join(names)} — the "
            "*binary* version 'cifar-10-binary.tar.gz' from https://www.cs.toronto.edu/~kriz/cifar.html "
            "(the Python pickle version is never loaded).")
    train = [read_cifar_batch(folder / n) for n in _CIFAR_TRAIN]
    X_te, y_te = read_cifar_batch(folder / _CIFAR_TEST)
    X_tr = np.concatenate([x for x, _ in train]).astype(np.float32) / 255.0
    y_tr = np.concatenate([y for _, y in train])
    return X_tr, y_tr, X_te.astype(np.float32) / 255.0, y_te
