"""The plugin registry: built-ins, entry points, duplicates, blocking, failures, every hook."""

from __future__ import annotations

import sys
import types

import attrs
import numpy as np
import pandas as pd
import pytest

import causalfolio as cf
from causalfolio import hookimpl
from causalfolio.errors import PluginError, SpecError
from causalfolio.registry import build_registry, builtin_modules, get_registry
from causalfolio.stages import (
    Allocation,
    DistanceForecast,
    DriverSelection,
    DriverSelector,
    DynamicsModel,
    RiskMapping,
    SensitivityExtractor,
    SensitivityForecaster,
)
from causalfolio.stages.dynamics import FittedDynamics


def test_builtins_register_through_their_modules():
    reg = build_registry(autoload=False, block=[])
    for stage, name, module in [("drivers", "rccp", "causalfolio.plugins.drivers.rccp"),
                                ("dynamics", "linear", "causalfolio.plugins.dynamics.linear"),
                                ("sensitivities", "beta", "causalfolio.plugins.sensitivities.beta"),
                                ("forecasting", "static",
                                 "causalfolio.plugins.forecasting.static"),
                                ("mapping", "hsp", "causalfolio.plugins.mapping.hsp"),
                                ("mapping", "hrp", "causalfolio.plugins.mapping.hrp"),
                                ("mapping", "equal", "causalfolio.plugins.mapping.equal")]:
        assert name in reg.names(stage)
        assert reg.provider(stage, name) == module
    assert not reg.failures
    assert all(not m.rsplit(".", 1)[1].startswith("_") for m in builtin_modules())


# --- one component per hook, registered by an in-code plugin ----------------------------------

@attrs.define(frozen=True, kw_only=True)
class FirstK(DriverSelector):
    """The first k candidates."""

    name = "first_k"
    k: int = 2

    def select(self, assets, candidates, *, seed):
        return DriverSelection(names=list(candidates.columns[: self.k]))


class _Fitted(FittedDynamics):
    def __init__(self, assets, drivers):
        self.assets, self.drivers = tuple(assets.columns), tuple(drivers.columns)
        self.lags = (0,)
        self.inputs = tuple(f"{d}@0" for d in self.drivers)
        self.train_index = assets.index
        self.info = {}

    def predict(self, x):
        return np.tile(x.sum(axis=1, keepdims=True), (1, len(self.assets)))


@attrs.define(frozen=True, kw_only=True)
class SumModel(DynamicsModel):
    """Every asset = the sum of the drivers."""

    name = "sum_model"

    def fit(self, assets, drivers, *, window, seed):
        return _Fitted(assets.iloc[-window:], drivers.iloc[-window:])


@attrs.define(frozen=True, kw_only=True)
class Ones(SensitivityExtractor):
    """Sensitivity 1 to every input."""

    name = "ones"

    def per_sample(self, model, x):
        return np.ones((x.shape[0], len(model.assets), x.shape[1]))


@attrs.define(frozen=True, kw_only=True)
class Doubled(SensitivityForecaster):
    """Twice the static distance."""

    name = "doubled"

    def forecast(self, sens, *, horizon, seed):
        return DistanceForecast(distance=2 * sens.distance, assets=sens.assets, horizon=horizon)


@attrs.define(frozen=True, kw_only=True)
class FirstAsset(RiskMapping):
    """Everything in the first asset (bounds are then projected by the pipeline)."""

    name = "first_asset"
    needs_sensitivities = False

    def allocate(self, inputs):
        w = np.zeros(len(inputs.assets))
        w[0] = 1.0
        return Allocation(weights=pd.Series(w, index=list(inputs.assets)))


def _plugin(**hooks) -> types.SimpleNamespace:
    return types.SimpleNamespace(**{k: hookimpl(v) for k, v in hooks.items()})


TOY = _plugin(
    register_drivers=lambda register: register(FirstK),
    register_dynamics=lambda register: register(SumModel),
    register_sensitivities=lambda register: register(Ones),
    register_forecasters=lambda register: register(Doubled),
    register_mappings=lambda register: register(FirstAsset),
)


def test_every_hook_registers_a_working_component(small_market):
    reg = build_registry(autoload=False, block=[], extra_plugins=[("toy", TOY)])
    for stage, name in [("drivers", "first_k"), ("dynamics", "sum_model"),
                        ("sensitivities", "ones"), ("forecasting", "doubled"),
                        ("mapping", "first_asset")]:
        assert reg.provider(stage, name) == "toy"
    p = cf.parse_spec("first_k(k=3)|sum_model|ones|doubled|first_asset", reg)
    m = small_market
    res = p.run(m.assets, m.candidates, m.dates[200], min_weight=0.05, max_weight=0.5)
    assert res.selection.names == tuple(m.candidates.columns[:3])
    assert np.allclose(res.sensitivities.aggregate, 1.0)
    assert np.allclose(res.forecast.distance, 0.0)
    w = res.weights.to_numpy()
    assert np.isclose(w.sum(), 1.0) and w.max() <= 0.5 + 1e-12 and w.min() >= 0.05 - 1e-12
    assert res.allocation.diagnostics["bounds_projection"] > 0


def test_duplicate_names_name_both_providers():
    dup = _plugin(register_mappings=lambda register: register(FirstAsset))
    with pytest.raises(PluginError) as info:
        build_registry(autoload=False, block=[], extra_plugins=[("toy", TOY), ("dup", dup)])
    assert "'toy'" in str(info.value) and "'dup'" in str(info.value)
    assert "duplicate risk mapping name 'first_asset'" in str(info.value)


@pytest.mark.parametrize("cls,fragment", [
    (int, "not a subclass"),
    (type("NoName", (RiskMapping,), {"allocate": lambda self, i: None}), "needs a class attr"),
])
def test_invalid_components_are_rejected(cls, fragment):
    bad = _plugin(register_mappings=lambda register: register(cls))
    with pytest.raises(PluginError, match=fragment):
        build_registry(autoload=False, block=[], extra_plugins=[("bad", bad)])


def test_blocking_a_builtin_plugin_removes_its_component():
    reg = build_registry(autoload=False, block=["causalfolio.plugins.mapping.hrp"])
    assert "hrp" not in reg.names("mapping") and "hsp" in reg.names("mapping")
    with pytest.raises(SpecError, match="risk mapping 'hrp' is blocked"):  # it exists
        cf.parse_spec("hrp", reg)


def test_environment_variables_control_autoload_and_blocking(monkeypatch, fresh_registry):
    import importlib.metadata as md

    calls = []

    def fake_entry_points(group):
        calls.append(group)
        return []

    monkeypatch.setattr(md, "entry_points", fake_entry_points)
    monkeypatch.setenv("CAUSALFOLIO_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("CAUSALFOLIO_BLOCK_PLUGINS", "causalfolio.plugins.mapping.equal, x")
    reg = get_registry()
    assert calls == [] and "equal" not in reg.names("mapping")
    assert reg.blocked == ("causalfolio.plugins.mapping.equal", "x")
    monkeypatch.setenv("CAUSALFOLIO_DISABLE_PLUGIN_AUTOLOAD", "0")
    monkeypatch.delenv("CAUSALFOLIO_BLOCK_PLUGINS")
    from causalfolio.registry import reset_registry

    reset_registry()
    reg = get_registry()
    assert calls == ["causalfolio"] and "equal" in reg.names("mapping")


class _EP:
    def __init__(self, name, target):
        self.name, self._target = name, target

    def load(self):
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


def test_failing_entry_point_is_reported_and_others_load(monkeypatch):
    import importlib.metadata as md

    good = _plugin(register_mappings=lambda register: register(FirstAsset))
    monkeypatch.setattr(md, "entry_points", lambda group: [
        _EP("broken", ImportError("No module named 'nope'")), _EP("good", good)])
    with pytest.warns(UserWarning, match="'broken' failed to load"):
        reg = build_registry(autoload=True, block=[])
    assert [f.name for f in reg.failures] == ["broken"]
    assert "No module named 'nope'" in reg.failures[0].error
    assert reg.provider("mapping", "first_asset") == "good"
    with pytest.raises(SpecError, match="plugins that failed to load: broken"):
        cf.parse_spec("nope_mapping", reg)


def test_a_hook_that_raises_is_reported():
    def explode(register):
        raise RuntimeError("kaboom")

    with pytest.warns(UserWarning, match="kaboom"):
        reg = build_registry(autoload=False, block=[],
                             extra_plugins=[("fragile", _plugin(register_drivers=explode))])
    assert reg.failures[0].name == "fragile" and "RuntimeError: kaboom" in reg.failures[0].error
    assert "rccp" in reg.names("drivers")


def test_module_level_plugin_object(monkeypatch):
    mod = types.ModuleType("cf_test_plugin_mod")
    mod.register_forecasters = hookimpl(lambda register: register(Doubled))
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    reg = build_registry(autoload=False, block=[], extra_plugins=[(mod.__name__, mod)])
    assert reg.provider("forecasting", "doubled") == mod.__name__


# --- register_estimators: regressors for sklearn(estimator=...) --------------------------------

FACTORY_CALLS: list[dict] = []


def counted_linear(fit_intercept: bool = True):
    """A plugin's estimator factory: ordinary least squares, counting its calls."""
    from sklearn.linear_model import LinearRegression

    FACTORY_CALLS.append({"fit_intercept": fit_intercept})
    return LinearRegression(fit_intercept=fit_intercept)


ESTIMATORS = _plugin(
    register_estimators=lambda register: register("plugin_ols", counted_linear,
                                                  {"fit_intercept": True}))


def test_register_estimators_hook_adds_a_fitted_estimator_without_calling_it_at_parse():
    from sklearn.linear_model import LinearRegression

    reg = build_registry(autoload=False, block=[], extra_plugins=[("ests", ESTIMATORS)])
    entry = reg.estimator("plugin_ols")
    assert entry.provider == "ests" and entry.defaults == {"fit_intercept": True}
    assert reg.estimator("kernel_ridge").provider == "causalfolio.plugins.dynamics.sklearn_model"
    FACTORY_CALLS.clear()
    spec = "rccp(k=2)|sklearn(estimator='plugin_ols')|fd|static|hsp"
    pipe = cf.parse_spec(spec, reg)
    assert FACTORY_CALLS == []  # nothing instantiated while parsing
    with pytest.raises(SpecError, match="'estimator' must be one of"):
        cf.parse_spec(spec, build_registry(autoload=False, block=[]))
    with pytest.raises(SpecError, match="no constructor argument 'alpha'"):
        cf.parse_spec(spec.replace("')", "',options='alpha=1')"), reg)
    rng = np.random.default_rng(0)
    idx = pd.bdate_range("2021-01-01", periods=80)
    d = pd.DataFrame(rng.normal(0, 0.01, (80, 2)), index=idx, columns=["D0", "D1"])
    a = pd.DataFrame(d.to_numpy() @ [[1.0, -0.5], [0.3, 2.0]] + 1e-3, index=idx,
                     columns=["A0", "A1"]) + rng.normal(0, 1e-3, (80, 2))
    fitted = pipe.dynamics.fit(a, d, window=60, seed=0)
    assert len(FACTORY_CALLS) == 2  # one regressor per asset, built when fitting
    ref = LinearRegression().fit(d.iloc[-60:], a["A1"].iloc[-60:])
    np.testing.assert_allclose(fitted.predict(d.iloc[-5:].to_numpy())[:, 1],
                               ref.predict(d.iloc[-5:]), rtol=1e-10, atol=1e-12)


def test_estimator_registrations_are_checked():
    def plugin(*args):
        return _plugin(register_estimators=lambda register: register(*args))

    for args, fragment in [(("Bad-Name", counted_linear), "snake_case"),
                           (("fine", "not callable"), "needs a class or function"),
                           (("fine", counted_linear, ["x"]), "defaults")]:
        with pytest.raises(PluginError, match=fragment):
            build_registry(autoload=False, block=[], extra_plugins=[("p", plugin(*args))])
    twin = _plugin(register_estimators=lambda register: register("plugin_ols", counted_linear))
    with pytest.raises(PluginError, match="duplicate estimator name 'plugin_ols'.*'a'.*'b'"):
        build_registry(autoload=False, block=[], extra_plugins=[("a", ESTIMATORS), ("b", twin)])


# --- a third-party component clashing with a built-in (issue 14, item 6) -----------------------

@attrs.define(frozen=True, kw_only=True)
class ImpostorHSP(RiskMapping):
    """A third-party mapping that claims the built-in name hsp."""

    name = "hsp"

    def allocate(self, inputs):
        return Allocation(weights=pd.Series(1.0, index=list(inputs.assets)))


IMPOSTOR = _plugin(register_mappings=lambda register: register(ImpostorHSP))


def test_a_clash_with_a_builtin_says_to_block_the_third_party_plugin():
    with pytest.raises(PluginError) as info:
        build_registry(autoload=False, block=[], extra_plugins=[("impostor", IMPOSTOR)])
    msg = str(info.value)
    assert "'causalfolio.plugins.mapping.hsp'" in msg and "'impostor'" in msg
    assert "CAUSALFOLIO_BLOCK_PLUGINS=impostor" in msg
    assert "CAUSALFOLIO_BLOCK_PLUGINS=causalfolio" not in msg
    # following the hint keeps the built-in as the real hsp
    reg = build_registry(autoload=False, block=["impostor"], extra_plugins=[("impostor",
                                                                            IMPOSTOR)])
    assert reg.provider("mapping", "hsp") == "causalfolio.plugins.mapping.hsp"


def test_lenient_registry_lists_the_clash_with_both_providers_and_keeps_the_builtin():
    reg = build_registry(autoload=False, block=[], extra_plugins=[("impostor", IMPOSTOR)],
                         strict=False)
    assert reg.provider("mapping", "hsp") == "causalfolio.plugins.mapping.hsp"
    [failure] = reg.failures
    assert failure.name == "impostor" and "CAUSALFOLIO_BLOCK_PLUGINS=impostor" in failure.error


def test_plugins_command_shows_the_provider_even_with_a_clash(monkeypatch, capsys,
                                                               fresh_registry):
    import importlib.metadata as md

    from causalfolio.cli import main

    monkeypatch.setattr(md, "entry_points", lambda group: [_EP("impostor", IMPOSTOR)])
    monkeypatch.delenv("CAUSALFOLIO_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("CAUSALFOLIO_BLOCK_PLUGINS", raising=False)
    assert main(["plugins", "--stage", "mapping"]) == 0
    out = capsys.readouterr().out
    assert "[causalfolio.plugins.mapping.hsp]" in out
    assert "failed plugin impostor" in out and "CAUSALFOLIO_BLOCK_PLUGINS=impostor" in out
    assert main(["spec", "hrp"]) == 2  # other commands refuse to run with the clash
    assert "CAUSALFOLIO_BLOCK_PLUGINS=impostor" in capsys.readouterr().err


class PortablePlugin:
    """A plugin object that pickles (by reference): a class with static hook functions."""

    @staticmethod
    @hookimpl
    def register_estimators(register):
        register("plugin_ols", counted_linear, {"fit_intercept": True})

    @staticmethod
    @hookimpl
    def register_drivers(register):
        register(FirstK)


def test_registry_pickles_as_its_recipe():
    import pickle

    reg = build_registry(autoload=False, block=["causalfolio.plugins.mapping.hrp"],
                         extra_plugins=[("portable", PortablePlugin)])
    reg.add("mapping", FirstAssetTwin, "notebook")
    reg.check_portable()
    again = pickle.loads(pickle.dumps(reg))
    assert again.provider("mapping", "first_asset_twin") == "notebook"
    assert again.provider("drivers", "first_k") == "portable"
    assert again.estimator("plugin_ols").factory is counted_linear
    assert "hrp" not in again.names("mapping") and "hsp" in again.names("mapping")
    lambdas = build_registry(autoload=False, block=[], extra_plugins=[("toy", TOY)])
    with pytest.raises(PluginError, match="cannot be sent to worker processes.*'serial'"):
        lambdas.check_portable()


@attrs.define(frozen=True, kw_only=True)
class FirstAssetTwin(FirstAsset):
    """FirstAsset under another name."""

    name = "first_asset_twin"
