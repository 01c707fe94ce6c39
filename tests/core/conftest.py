"""Fixtures of the core tests."""

from __future__ import annotations

import pytest

from causalfolio.cli import main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A tiny synthetic data folder (5 assets, 300 days) written by `datasets synthetic`."""
    folder = tmp_path_factory.mktemp("data") / "data"
    assert main(["datasets", "synthetic", "--out", str(folder), "--n-assets", "5",
                 "--n-days", "300", "--n-noise", "3"]) == 0
    return folder
