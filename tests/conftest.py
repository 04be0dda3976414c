"""Shared test settings: one torch thread (the CI machine has 2 cores and pytest may share them),
and a per-session reference cache so tests never depend on a user's ~/.cache."""
import os

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def _reference_cache(tmp_path_factory):
    if "SPIKEPDE_CACHE" not in os.environ:
        os.environ["SPIKEPDE_CACHE"] = str(tmp_path_factory.mktemp("spikepde-cache"))
    yield
