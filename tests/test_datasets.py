"""Loaders: digits splits, IDX and CIFAR-10 binary round-trips on small files written here."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from spikepde.classification.datasets import (load_dataset, read_cifar_batch, read_idx, standardise,
                                              stratified_split)
from spikepde.errors import DataError


# files in the formats the loaders read (test fixtures: the package only reads them)
def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write a ``uint8`` array as an IDX file (gzip'd when ``path`` ends in ``.gz``).

    The inverse of :func:`read_idx`; used by the tests to build small files in the real format.
    """
    path = Path(path)
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as fh:
        fh.write(header + array.tobytes())
    return path


def write_cifar_batch(path: str | os.PathLike, images: np.ndarray, labels: np.ndarray) -> Path:
    """Write ``uint8 [N, 3, 32, 32]`` images and labels as a CIFAR-10 binary batch (for tests)."""
    images = np.ascontiguousarray(images, dtype=np.uint8).reshape(len(labels), -1)
    records = np.concatenate([np.asarray(labels, dtype=np.uint8)[:, None], images], axis=1)
    Path(path).write_bytes(records.tobytes())
    return Path(path)


def test_digits_splits_are_disjoint_stratified_and_fixed():
    data = load_dataset("digits")
    sizes = data.sizes()
    assert sum(sizes.values()) == 1797
    assert 355 <= sizes["test"] <= 365            # 20 % stratified
    assert 0.08 < sizes["val"] / (sizes["train"] + sizes["val"]) < 0.12
    assert data.X_train.shape[1:] == (1, 8, 8) and data.X_train.dtype == np.float32
    assert 0.0 <= data.X_train.min() and data.X_train.max() <= 1.0
    # every class is present in every split, in roughly the same proportion
    for y in (data.y_train, data.y_val, data.y_test):
        counts = np.bincount(y, minlength=10)
        assert counts.min() > 0 and counts.max() / counts.min() < 1.5
    # no sample appears in two splits, and a second load gives exactly the same splits
    rows = lambda X: {x.tobytes() for x in X.reshape(len(X), -1)}
    assert not rows(data.X_test) & rows(data.X_train)
    again = load_dataset("digits")
    assert np.array_equal(again.X_val, data.X_val) and np.array_equal(again.y_test, data.y_test)


def test_stratified_split_fractions():
    y = np.repeat(np.arange(3), [10, 20, 30])
    keep, held = stratified_split(y, 0.1, seed=3)
    assert np.bincount(y[held]).tolist() == [1, 2, 3]
    assert len(np.intersect1d(keep, held)) == 0 and len(keep) + len(held) == 60


def test_standardise_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    X_train = rng.normal(2.0, 3.0, size=(500, 2, 3)).astype(np.float32)     # [N, C, positions]
    X_train[:, 1] *= 10.0                                  # channels on different scales
    X_test = rng.normal(50.0, 1.0, size=(20, 2, 3)).astype(np.float32)
    (Z_train, Z_test), stats = standardise(X_train, X_test)
    assert Z_train.shape == (500, 6) and Z_test.shape == (20, 6) and Z_train.dtype == np.float32
    for c in range(2):   # each channel standardised over samples and positions
        block = Z_train.reshape(500, 2, 3)[:, c]
        assert abs(block.mean()) < 1e-5 and abs(block.std() - 1) < 1e-4
    assert len(stats["per_channel_mean"]) == 2 and stats["from"] == "training split only"
    assert Z_test[:, :3].mean() > 10                       # test statistics did not leak in
    assert np.all(np.isfinite(Z_test))


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, suffix):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / f"x-idx3-ubyte{suffix}", images)
    raw = gzip.open(path).read() if suffix else path.read_bytes()
    assert raw[:4] == bytes([0, 0, 8, 3])                 # the IDX magic number of a 3-d ubyte file
    assert int.from_bytes(raw[4:8], "big") == 2
    assert np.array_equal(read_idx(path), images)


def test_idx_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(bytes([1, 2, 8, 1, 0, 0, 0, 1, 7]))
    with pytest.raises(DataError, match="magic"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]))
    with pytest.raises(DataError, match="announces"):
        read_idx(short)


def _write_mnist_like(folder, n_train=30, n_test=10, gz=True):
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    sfx = ".gz" if gz else ""
    data = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(folder / f"{split}-images-idx3-ubyte{sfx}", images)
        write_idx(folder / f"{split}-labels-idx1-ubyte{sfx}", labels)
        data[split] = (images, labels)
    return data


@pytest.mark.parametrize("name,gz", [("mnist", True), ("fashion-mnist", False)])
def test_idx_dataset_loads_from_data_dir(tmp_path, name, gz):
    written = _write_mnist_like(tmp_path / name, gz=gz)
    data = load_dataset(name, data_dir=tmp_path)
    assert data.X_train.shape[1:] == (1, 28, 28) and data.n_classes == 10
    assert len(data.y_train) + len(data.y_val) == 30 and len(data.y_test) == 10
    images, labels = written["t10k"]
    assert np.allclose(data.X_test[:, 0] * 255.0, images, atol=1e-3)
    assert np.array_equal(data.y_test, labels)


def test_missing_files_raise_data_error_naming_them(tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset("mnist", data_dir=tmp_path)
    assert "train-images-idx3-ubyte" in str(err.value) and "usually obtained" in str(err.value)
    with pytest.raises(DataError, match="data_batch_1.bin"):
        load_dataset("cifar10", data_dir=tmp_path)
    with pytest.raises(DataError, match="no --data-dir"):
        load_dataset("fashion-mnist")


def test_cifar_binary_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    written = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        images = rng.integers(0, 256, size=(10, 3, 32, 32), dtype=np.uint8)
        labels = rng.permutation(10)
        write_cifar_batch(folder / name, images, labels)
        written[name] = (images, labels)
    assert (folder / "test_batch.bin").stat().st_size == 10 * 3073
    x, y = read_cifar_batch(folder / "test_batch.bin")
    assert np.array_equal(x, written["test_batch.bin"][0]) and np.array_equal(y, written["test_batch.bin"][1])
    # the red plane of record 0 is bytes 1..1024 of the file, row-major
    raw = (folder / "test_batch.bin").read_bytes()
    assert raw[1] == x[0, 0, 0, 0] and raw[1 + 1024 + 33] == x[0, 1, 1, 1]
    data = load_dataset("cifar10", data_dir=tmp_path)
    assert data.X_train.shape[1:] == (3, 32, 32) and len(data.y_train) + len(data.y_val) == 50
    assert np.allclose(data.X_test * 255.0, written["test_batch.bin"][0], atol=1e-3)


def test_cifar_rejects_truncated_batch(tmp_path):
    bad = tmp_path / "data_batch_1.bin"
    bad.write_bytes(bytes(3073 + 5))
    with pytest.raises(DataError, match="3073"):
        read_cifar_batch(bad)
