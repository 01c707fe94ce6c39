"""Nothing read from a spec string, a grid file or a cache file becomes an import or a call.

Issue 14, item 1: ``sklearn(estimator='subprocess.Popen', options="args='touch pwned',
shell=True")`` used to import and call ``subprocess.Popen`` while the spec was only being checked.
Every attempt below must raise a ``SpecError`` (exit 2 in the CLI) and never create the marker.
"""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest

from causalfolio import parse_spec
from causalfolio.ablation import Grid
from causalfolio.cli import main
from causalfolio.errors import ParameterError, SpecError
from causalfolio.plugins.dynamics.sklearn_model import SklearnModel


def attacks(marker):
    """(estimator, options) pairs that would create ``marker`` if the strings ran as code."""
    cmd = f"touch {marker}"
    return [
        ("subprocess.Popen", f"args={cmd!r}, shell=True"),
        ("subprocess.run", f"args={cmd!r}, shell=True"),
        ("subprocess.check_call", f"args={cmd!r}, shell=True"),
        ("os.system", f"command={cmd!r}"),
        ("posix.system", f"command={cmd!r}"),
        ("builtins.eval", f"source=\"__import__('os').system({cmd!r})\""),
        ("builtins.exec", f"source=\"__import__('os').system({cmd!r})\""),
        ("importlib.import_module", "name='antigravity'"),
        ("Popen", f"args={cmd!r}, shell=True"),  # a bare class name outside scikit-learn
        ("sklearn.utils._testing.Popen", f"args={cmd!r}, shell=True"),
        ("sklearn.base.subprocess.Popen", f"args={cmd!r}, shell=True"),  # attribute walk
        ("sklearn.linear_model.__builtins__", ""),
        # allowed estimator, code smuggled in the options instead
        ("kernel_ridge", f"alpha=__import__('os').system({cmd!r})"),
        ("sklearn.linear_model.Ridge", f"alpha=eval(\"__import__('os').system({cmd!r})\")"),
        ("Ridge", f"**{{'alpha': __import__('os').system({cmd!r})}}"),
        ("Ridge", "alpha=(lambda: 1)()"),
        ("Ridge", "alpha=1 if __import__('os') else 2"),
    ]


def specs(marker):
    return [f"rccp(k=3)|sklearn(estimator={est!r},options={opt!r})|fd|static|hsp"
            for est, opt in attacks(marker)]


@pytest.fixture
def marker(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "a spec string ran code"


def test_python_api_parse_spec_raises_spec_error(marker):
    for spec in specs(marker):
        with pytest.raises(SpecError) as info:
            parse_spec(spec)
        msg = str(info.value)  # the '**{...}' attempt is stopped earlier, by the brace check
        assert "sklearn: parameter 'estimator'" in msg or "sklearn: parameter 'options'" in msg \
            or "braces give alternatives" in msg, msg


def test_component_construction_raises_parameter_error(marker):
    for est, opt in attacks(marker):
        with pytest.raises(ParameterError, match="parameter '(estimator|options)'"):
            SklearnModel(estimator=est, options=opt)


def test_the_issue_reproduction_through_the_cli_spec_command(marker, capsys):
    spec = ("rccp(k=3)|sklearn(estimator='subprocess.Popen', options=\"args='touch pwned', "
            "shell=True\")|beta|static|hsp")
    assert main(["spec", spec]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'subprocess.Popen'" in err and "never imported" in err


def test_cli_spec_and_ablate_dry_run(marker, capsys):
    for spec in specs(marker):
        assert main(["spec", spec]) == 2, spec
        assert main(["ablate", "--spec", spec, "--synthetic", "1", "--dry-run"]) == 2, spec
        err = capsys.readouterr().err
        assert "causalfolio: error:" in err and "Traceback" not in err


def test_toml_grid_file(marker, tmp_path, capsys):
    for i, spec in enumerate(specs(marker)):
        grid = tmp_path / f"grid{i}.toml"
        grid.write_text(f"specs = [{json.dumps(spec)}]\n")
        with pytest.raises(SpecError):
            Grid.from_toml(grid)
        assert main(["ablate", "--grid", str(grid), "--synthetic", "1", "--dry-run"]) == 2
    stages = tmp_path / "stages.toml"
    stages.write_text(
        '[stages]\ndrivers = "rccp(k=3)"\n'
        f'dynamics = [{json.dumps(specs(marker)[0].split("|")[1])}]\n'
        'sensitivities = "fd"\nforecasting = "static"\nmapping = "hsp"\n')
    with pytest.raises(SpecError, match="'subprocess.Popen'"):
        Grid.from_toml(stages)


def test_parsing_never_builds_an_estimator(monkeypatch):
    """An allow-listed estimator is looked up, not instantiated, while a spec is parsed."""
    from sklearn.linear_model import Ridge

    calls = []
    monkeypatch.setattr(Ridge, "__init__", lambda self, *a, **k: calls.append(k))
    parse_spec("rccp(k=3)|sklearn(estimator='sklearn.linear_model.Ridge',options='alpha=2')"
               "|fd|static|hsp")
    assert calls == []


def test_estimator_lookup_imports_nothing_it_is_given(monkeypatch):
    monkeypatch.delitem(sys.modules, "antigravity", raising=False)
    monkeypatch.delitem(sys.modules, "this", raising=False)
    for name in ("antigravity.Fly", "this.Zen", "sklearn.antigravity.Fly"):
        with pytest.raises(ParameterError):
            SklearnModel(estimator=name)
    assert "antigravity" not in sys.modules and "this" not in sys.modules


def test_a_cache_file_names_no_import_and_no_attribute_walk(monkeypatch):
    from causalfolio.ablation.cache import Unencodable, decode

    monkeypatch.delitem(sys.modules, "causalfolio.report.html", raising=False)
    for where in ("subprocess:Popen", "os:system", "causalfolio.report.html:ReportPage",
                  "causalfolio.stages:DriverSelection.__init__.__globals__",
                  "causalfolio.ablation.cache:subprocess.Popen"):
        manifest = json.dumps({"format": 1, "root": {"__obj": where, "state": {}}})
        buf = io.BytesIO()
        np.savez(buf, __manifest__=np.frombuffer(manifest.encode(), dtype=np.uint8))
        with pytest.raises(Unencodable, match="not an allowed stage-output class"):
            decode(buf.getvalue())
    assert "causalfolio.report.html" not in sys.modules
