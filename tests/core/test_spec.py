"""Spec strings: parsing without eval, canonical formatting, errors that point, brace expansion."""

from __future__ import annotations

import pytest

import causalfolio as cf
from causalfolio.errors import SpecError
from causalfolio.spec import expand_spec, format_value, parse_parts
from causalfolio.stages import STAGES


def test_canonical_form_drops_defaults_and_round_trips():
    p = cf.parse_spec("  rccp( k = 3 , eps=0.0 ) | linear(lags=(1, 0)) |beta| static |hsp ")
    assert p.spec == "rccp(k=3)|linear(lags=[1,0])|beta|static|hsp"
    again = cf.parse_spec(p.spec)
    assert again == p and again.spec == p.spec


def test_values_are_coerced_to_field_types():
    p = cf.parse_spec("rccp(k=3,eps=1)|linear(lags=0,ridge=1)|beta|static|hsp")
    assert p.drivers.eps == 1.0 and isinstance(p.drivers.eps, float)
    assert p.dynamics.lags == (0,)
    assert p.dynamics.ridge == 1.0
    assert p.spec == "rccp(k=3,eps=1.0)|linear(ridge=1.0)|beta|static|hsp"


@pytest.mark.parametrize("value,text", [(None, "None"), (True, "True"), (3, "3"), (0.5, "0.5"),
                                        (-1e-05, "-1e-05"), ("a'b", '"a\'b"'),
                                        ((1, 2), "[1,2]"), ([], "[]")])
def test_format_value(value, text):
    assert format_value(value) == text


def test_benchmark_spec_is_a_single_mapping():
    p = cf.parse_spec("hrp(linkage='average')")
    assert p.is_benchmark and p.spec == "hrp(linkage='average')"
    assert p.components == (p.mapping,)


def _err(spec: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        cf.parse_spec(spec)
    return info.value


def test_unknown_component_suggests_closest_name_and_points_at_it():
    e = _err("rccp(k=3)|lineer|beta|static|hsp")
    assert "unknown dynamics model 'lineer'" in str(e)
    assert "did you mean 'linear'?" in str(e)
    assert e.spec[e.start:e.end] == "lineer"
    assert ">>lineer<<" in str(e)
    assert e.caret().splitlines()[1] == " " * 10 + "^" * 6
    assert "\n" not in str(e)


def test_unknown_parameter_suggests_closest_parameter():
    e = _err("rccp(kk=3)|linear|beta|static|hsp")
    assert "rccp has no parameter 'kk'" in str(e) and "did you mean 'k'?" in str(e)
    assert e.spec[e.start:e.end] == "kk=3"


def test_invalid_values_point_at_the_parameter():
    e = _err("rccp(k=-2)|linear|beta|static|hsp")
    assert "must be > 0" in str(e) and e.spec[e.start:e.end] == "k=-2"
    e = _err("rccp(k=2.5)|linear|beta|static|hsp")
    assert "expects int" in str(e)
    e = _err("rccp|linear|beta(aggregate='avg')|static|hsp")
    assert "'mean'|'median'" in str(e)


def test_component_in_the_wrong_stage_is_explained():
    e = _err("linear|rccp|beta|static|hsp")
    assert "is a dynamics model: check the stage order" in str(e)


@pytest.mark.parametrize("spec,fragment", [
    ("rccp(k=__import__('os'))|linear|beta|static|hsp", "parameter values must be"),
    ("rccp(k=1+2)|linear|beta|static|hsp", "parameter values must be"),
    ("rccp(3)|linear|beta|static|hsp", "parameters must be given by name"),
    ("rccp(k=foo)|linear|beta|static|hsp", "quote text values"),
    ("rccp(**k)|linear|beta|static|hsp", "'**' is not allowed"),
    ("rccp(k=3|linear|beta|static|hsp", "cannot parse"),
    ("os.system('x')|linear|beta|static|hsp", "expected a component name"),
    ("rccp||beta|static|hsp", "empty stage"),
    ("rccp|linear|hsp", "five stages"),
    ("hsp", "needs the sensitivity space"),
    ("", "empty spec"),
])
def test_malformed_specs_are_rejected_without_eval(spec, fragment):
    assert fragment in str(_err(spec))


def test_parse_parts_never_evaluates(monkeypatch):
    import builtins

    def boom(*a, **k):  # pragma: no cover - must not run
        raise AssertionError("eval called")

    monkeypatch.setattr(builtins, "eval", boom)
    calls = parse_parts("a(x=[1,-2.5,'s',None,True])|b")
    assert calls[0].params == {"x": [1, -2.5, "s", None, True]} and calls[1].name == "b"


def test_brace_expansion_counts_and_order():
    specs = expand_spec("{rccp,rccp(k=3)}|linear(lags={[0],[0,1]})|beta|static|{hsp,hrp}")
    assert len(specs) == 8
    assert specs[0] == "rccp|linear(lags=[0])|beta|static|hsp"
    assert specs[-1] == "rccp(k=3)|linear(lags=[0,1])|beta|static|hrp"
    canon = [cf.parse_spec(s).spec for s in specs]
    assert len(set(canon)) == 8
    assert expand_spec("{a,{b,c}}") == ["a", "b", "c"]
    assert expand_spec("x(s='{a,b}')") == ["x(s='{a,b}')"]


@pytest.mark.parametrize("spec,fragment", [("{rccp,|x", "unmatched '{'"), ("a}", "unmatched"),
                                           ("{a,}|b", "empty alternative")])
def test_brace_errors(spec, fragment):
    with pytest.raises(SpecError, match=fragment):
        expand_spec(spec)


def test_unexpanded_braces_are_an_error_for_parse():
    assert "expand the spec first" in str(_err("{rccp,rccp(k=2)}|linear|beta|static|hsp"))


def test_every_stage_has_components_and_each_round_trips():
    reg = cf.get_registry()
    for stage in STAGES:
        assert reg.names(stage), stage
    for name in reg.names("mapping"):
        cls = reg.get("mapping", name)
        if not cls.needs_sensitivities:
            assert cf.parse_spec(name).spec == name


def test_quoted_text_is_not_syntax_for_splitting_nesting_or_expansion():
    from causalfolio.spec.parser import MAX_NESTING, check_nesting, scan, split_parts

    spec = "a(s='x|y')|b(t=\"{[(\")|c(u='it\\'s|')"
    assert [text for text, _ in split_parts(spec)] == [
        "a(s='x|y')", "b(t=\"{[(\")", "c(u='it\\'s|')"]
    assert [off for _, off in split_parts(spec)] == [0, 11, 22]
    # the quotes themselves count as quoted; an escaped quote does not close the string
    flags = [q for _, _, q in scan("a'b\\'c'd")]
    assert flags == [False, True, True, True, True, True, True, False]
    check_nesting("x(s='" + "[" * (MAX_NESTING + 5) + "')")  # text, not nesting
    with pytest.raises(SpecError, match="nested more than"):
        check_nesting("x(s=" + "[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1) + ")")
    assert expand_spec("m(s='{a,b}')|{p,q}") == ["m(s='{a,b}')|p", "m(s='{a,b}')|q"]
