"""Bad synthetic-market settings are refused up front with one clear line (issue #23, D05, D06)."""

from __future__ import annotations

import math

import pytest

import causalfolio.data.synthetic as synth_mod
from causalfolio.cli import main
from causalfolio.data import synthetic_market
from causalfolio.errors import ParameterError

BAD = {
    "n_clusters": (0, "n_clusters must be an integer >= 1"),
    "driver_vol": (0.0, "driver_vol must be > 0"),
    "idio_vol": (-0.01, "idio_vol must be >= 0"),
    "n_noise": (-5, "n_noise must be an integer >= 0"),
    "n_proxies": (-1, "n_proxies must be an integer >= 0"),
    "tail_df": (math.nan, "tail_df must be > 2"),
    "n_assets": (2.5, "n_assets must be an integer >= 2"),
    "n_days": (True, "n_days must be an integer"),
    "beta_persistence": (1.0, "beta_persistence must be in [0, 1)"),
    "proxy_noise": (math.inf, "proxy_noise must be >= 0"),
    "collider_noise": (-0.1, "collider_noise must be >= 0"),
    "driver_drift": (math.nan, "driver_drift must be any finite number"),
    "specific": ("yes", "specific must be true or false"),
    "n_latent_proxies": (2, "n_latent_proxies needs latent drivers"),
    "shifts": ("driver_vol:strength=0", "strength multiplies a volatility"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_each_bad_setting_is_a_parameter_error_naming_it(name):
    value, needle = BAD[name]
    with pytest.raises(ParameterError, match=needle.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)")):
        synthetic_market(**{name: value, "n_days": 60} if name != "n_days" else {name: value})
    with pytest.raises(ParameterError, match="driver_vol must be > 0"):
        synthetic_market(driver_vol=float("nan"), n_days=60)


def test_a_market_too_large_for_memory_is_refused_before_anything_is_drawn(monkeypatch):
    for kw in ({"n_days": 100_000_000}, {"n_assets": 200_000}):
        with pytest.raises(ParameterError, match="GiB.*use fewer days or assets"):
            synthetic_market(**kw)
    monkeypatch.setattr(synth_mod, "memory_limit", lambda: 2**20)  # a 1 MiB machine
    with pytest.raises(ParameterError, match="more than half of this machine's 0.0 GiB"):
        synthetic_market(n_days=300)  # needs about 1.4 MiB
    monkeypatch.undo()
    with pytest.raises(ParameterError, match="pandas' calendar"):
        synthetic_market(n_days=100_000, n_assets=2, n_common=1, n_noise=0, specific=False)


@pytest.mark.parametrize("argv, needle", [
    (["datasets", "synthetic", "--n-noise", "-1"], "n_noise must be an integer >= 0"),
    (["datasets", "synthetic", "--n-days", "100000000"], "GiB"),
    (["ablate", "--synthetic", "0", "--synthetic-param", "n_clusters=0", "--spec",
      "rccp(k=3)|linear|beta|static|hsp", "--quiet", "--executor", "serial"],
     "n_clusters must be an integer >= 1"),
    (["ablate", "--synthetic", "0", "--synthetic-param", "shifts=driver_vole", "--spec",
      "rccp(k=3)|linear|beta|static|hsp", "--quiet", "--executor", "serial"],
     "did you mean 'driver_vol'"),
])
def test_cli_exits_2_with_one_line_and_writes_nothing(argv, needle, tmp_path, capsys,
                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = main([*argv, "--out", "o"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("causalfolio: error: "), err
    assert needle in err[0]
    assert list(tmp_path.iterdir()) == []
