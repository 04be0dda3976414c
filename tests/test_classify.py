"""spikepde.classify: run directory, honest metrics, reproducibility, the trainers' contract, errors."""
from __future__ import annotations

import json

import pytest
import torch

from spikepde.classification import classify, load_classifier
from spikepde.errors import DataError
from spikepde.runs import load_checkpoint

TINY = dict(hidden=(30, 30, 30), T=8, epochs=2, batch_size=64, lr=5e-3)


def test_run_directory_and_metrics(tmp_path):
    res = classify("digits", "ff", seed=0, out=tmp_path, quiet=True, **TINY)
    for name in ("config.json", "metrics.json", "history.json", "checkpoint.pt", "confusion.png",
                 "per_class_accuracy.png", "training.png", "raster.png"):
        assert (tmp_path / name).is_file(), name
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["selection"] == "validation"
    assert m["test_accuracy"] == pytest.approx(res.accuracy) and res.accuracy > 0.7
    assert len(m["test_accuracy_per_layer"]) == 3 and len(m["per_class_accuracy"]) == 10
    conf = torch.tensor(m["confusion_matrix"])
    assert int(conf.sum()) == json.loads((tmp_path / "config.json").read_text())["split_sizes"]["test"]
    assert float(conf.diag().sum()) / float(conf.sum()) == pytest.approx(res.accuracy)
    for key in ("wall_time_s", "peak_rss_mb", "spike_rate", "synaptic_ops_per_sample",
                "energy_pj_per_sample", "activation_bytes_held_for_update"):
        assert m[key] > 0, key
    assert 0 < m["spike_rate"] < 1
    # checkpoint: weights_only-loadable and gives back the same predictions
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    assert state["method"] == "ff"
    model, _ = load_classifier(tmp_path)
    X = torch.randn(5, 64)
    assert torch.allclose(model.predict(X), res.model.predict(X))


def test_same_seed_same_numbers():
    a = classify("digits", "ff", seed=3, quiet=True, plots=False, **TINY)
    b = classify("digits", "ff", seed=3, quiet=True, plots=False, **TINY)
    assert a.accuracy == b.accuracy and a.confusion == b.confusion
    assert a.history["val_accuracy"] == b.history["val_accuracy"]


def test_bptt_and_hinton_methods_run():
    b = classify("digits", "bptt", quiet=True, plots=False, **{**TINY, "epochs": 1})
    assert b.metrics["method"] == "bptt" and b.accuracy > 0.3
    h = classify("digits", "ff", variant="hinton", quiet=True, plots=False, **{**TINY, "epochs": 1})
    assert h.metrics["inference_passes"] == 10 and h.accuracy > 0.2


def test_a_registered_classification_method_runs_through_the_protocol():
    """The classification trainers' contract: ``train(X_train, y_train, X_val, y_val, config, *,
    seed, quiet) -> TrainOutput`` with a model or a ``predict`` function; classify() scores it."""
    from spikepde.train.classifier_training import TrainOutput
    from spikepde.train.registry import CLASSIFIERS

    seen = {}

    def least_squares(X_train, y_train, X_val, y_val, config, *, seed, quiet):
        seen.update(hidden=config.hidden, T=config.T, epochs=config.epochs, n_val=len(y_val))
        W = torch.linalg.lstsq(X_train, torch.nn.functional.one_hot(y_train, 10).float()).solution
        return TrainOutput(None, {"loss": [1.0]}, None, None, None, 0.0, predict=lambda X: X @ W,
                           extra={"note": "least squares"})

    CLASSIFIERS.register("lsq", least_squares)
    try:
        res = classify("digits", "lsq", quiet=True, plots=False, epochs=3, hidden=(16, 16), T=4)
    finally:
        CLASSIFIERS.unregister("lsq")
    assert seen["hidden"] == (16, 16) and seen["T"] == 4 and seen["epochs"] == 3 and seen["n_val"] > 100
    # a least-squares linear map scores well above chance (0.1) when its predict function is used
    assert res.accuracy > 0.6 and res.metrics["note"] == "least squares" and res.metrics["selection"] == "validation"


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown method"):
        classify("digits", "sgd")
    with pytest.raises(ValueError, match="unknown classify option"):
        classify("digits", "ff", widths=(3,))
    with pytest.raises(DataError, match="t10k-images"):
        classify("mnist", "ff", data_dir="/nonexistent")


def test_admm_on_digits_brings_its_own_network_and_options_still_win():
    import spikepde
    from spikepde.classification.run import METHOD_DEFAULTS

    assert METHOD_DEFAULTS[("admm", "digits")] == {"hidden": (256,), "epochs": 20}
    r = spikepde.classify("digits", method="admm", epochs=1, limit=300, quiet=True, plots=False)
    assert tuple(r.config["model"]["hidden"]) == (256,) and r.config["model"]["epochs"] == 1
    r = spikepde.classify("digits", method="admm", epochs=1, limit=300, quiet=True, plots=False,
                          hidden=(40,))
    assert tuple(r.config["model"]["hidden"]) == (40,)
    ff = spikepde.classify("digits", method="ff", epochs=1, limit=300, quiet=True, plots=False)
    assert tuple(ff.config["model"]["hidden"]) == (200, 200, 200)
