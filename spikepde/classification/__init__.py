"""Image classification with the spiking engine: the data sets with their honest splits
(:mod:`.datasets`), the evaluation protocol and run directory (:mod:`.run`: :func:`classify`)
and the plots of a run (:mod:`.plots`). The methods themselves are in :mod:`spikepde.train`
(:data:`~spikepde.train.registry.CLASSIFIERS`)."""
from .datasets import DATASETS, ClassificationData, load_dataset, standardise
from .run import DEFAULTS, ClassifyResult, classify, load_classifier

__all__ = ["DATASETS", "DEFAULTS", "ClassificationData", "ClassifyResult", "classify", "load_classifier",
           "load_dataset", "standardise"]
