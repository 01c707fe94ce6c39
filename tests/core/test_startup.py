"""Start-up stays light: discovering components and parsing a spec import no heavy library, and
``causalfolio --help`` imports neither pandas nor scipy (issue 15, instant start).

Checked structurally in fresh interpreters (``sys.modules`` after the operation), not by timing;
the timings are in tests/benchmarks/bench_startup.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("cvxpy", "torch", "networkx", "pgmpy", "sklearn", "matplotlib", "scipy.stats",
         "statsmodels", "copulas")


def loaded_after(code: str, watch: tuple[str, ...]) -> list[str]:
    """The modules of ``watch`` present in ``sys.modules`` after running ``code`` in a fresh
    interpreter (built-in plugins only: no third-party entry points)."""
    probe = (f"{code}\nimport json, sys\n"
             f"print(json.dumps(sorted(m for m in {list(watch)!r} if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, env={"CAUSALFOLIO_DISABLE_PLUGIN_AUTOLOAD": "1",
                                          "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_registry_and_spec_parse_import_no_heavy_library():
    code = ("import causalfolio as cf\n"
            "reg = cf.get_registry()\n"
            "assert not reg.failures, reg.failures\n"
            "cf.parse_spec('rccp(k=3)|linear|beta|static|hsp')\n"
            "cf.parse_spec('mlcorr(k=3)|linear(lags=[0,1])|fd|static|mvo(solver=\"auto\")')\n"
            "for e in reg.entries():\n"
            "    e.cls.parameters(); e.cls.summary()\n")
    # pandas and numpy too (a third and a seventh of a second): parsing needs neither
    assert loaded_after(code, ("pandas", "numpy", *HEAVY)) == []


def test_every_component_builds_with_its_defaults_without_heavy_imports():
    # constructing (validating) a component is what parsing a spec does; required parameters
    # are what the spec would give, so only components without required ones are built here.
    # The sklearn dynamics validates its estimator and options by building the estimator, which
    # needs scikit-learn: parsing a spec that uses it may import it, the others may not.
    code = ("import causalfolio as cf\n"
            "reg = cf.get_registry()\n"
            "built = 0\n"
            "for e in reg.entries():\n"
            "    if e.name != 'sklearn' and not any(p.required for p in e.cls.parameters()):\n"
            "        e.cls(); built += 1\n"
            "assert built > 20, built\n")
    assert loaded_after(code, ("numpy", *HEAVY)) == []


def test_cli_help_imports_neither_pandas_nor_scipy():
    code = ("from causalfolio.cli import main\n"
            "for argv in (['--help'], ['ablate', '--help'], ['backtest', '--help'],\n"
            "             ['report', '--help']):\n"
            "    try:\n"
            "        main(argv)\n"
            "    except SystemExit:\n"
            "        pass\n")
    assert loaded_after(code, ("pandas", "scipy", "numpy", *HEAVY)) == []


def test_cli_spec_and_plugins_import_no_heavy_library():
    code = ("import contextlib, io\n"
            "from causalfolio.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    assert main(['spec', 'rccp(k={3,4})|linear|beta|static|hsp']) == 0\n"
            "    assert main(['plugins']) == 0\n")
    assert loaded_after(code, ("pandas", "numpy", *HEAVY)) == []


def test_the_probe_sees_heavy_imports():
    # the check above can fail: a backtest with an optimiser does import cvxpy
    assert "cvxpy" in loaded_after("import cvxpy", HEAVY)


def test_the_shared_lazy_proxies_import_on_first_use_and_then_are_the_library():
    code = ("import sys\n"
            "from causalfolio._lazy import lazy_module, np, pd\n"
            "assert 'numpy' not in sys.modules and 'pandas' not in sys.modules\n"
            "assert np.asarray([1.5, 2.5]).sum() == 4.0 and 'numpy' in sys.modules\n"
            "import numpy\n"
            "assert np.ndarray is numpy.ndarray and np.linalg is numpy.linalg\n"
            "assert 'ndarray' in vars(np)  # cached: later lookups skip the import machinery\n"
            "assert lazy_module('numpy') is numpy  # already imported: the module itself\n"
            "assert 'pandas' not in sys.modules\n"
            "assert pd.Series([1, 2]).sum() == 3\n")
    assert loaded_after(code, ("numpy", "pandas")) == ["numpy", "pandas"]
