"""Component parameters: coercion to annotated types and validation on construction."""

from __future__ import annotations

from typing import Literal

import attrs
import pytest

from causalfolio.errors import ParameterError
from causalfolio.params import coerce, in_range, non_empty, param, positive, type_name
from causalfolio.stages import RiskMapping


@attrs.define(frozen=True, kw_only=True)
class Toy(RiskMapping):
    """A toy mapping to exercise parameter handling."""

    name = "toy"
    n: int = param(3, validator=positive)
    x: float = param(0.5, validator=in_range(0.0, 1.0))
    how: Literal["a", "b"] = param("a")
    items: tuple[int, ...] = param((1,), validator=non_empty)
    opt: float | None = param(None)

    def allocate(self, inputs):  # pragma: no cover - not run
        raise NotImplementedError


def test_construction_coerces_and_validates():
    t = Toy(n=2, x=1, items=[3, 4], opt=2)
    assert (t.n, t.x, t.items, t.opt) == (2, 1.0, (3, 4), 2.0)
    assert isinstance(t.x, float) and isinstance(t.opt, float)
    assert t.spec == "toy(n=2,x=1.0,items=[3,4],opt=2.0)"
    assert Toy().spec == "toy"


@pytest.mark.parametrize("kwargs,fragment", [
    ({"n": 0}, "must be > 0"), ({"n": True}, "expects int"), ({"n": 1.5}, "expects int"),
    ({"x": 2.0}, "must be in [0.0, 1.0]"), ({"how": "c"}, "expects 'a'|'b'"),
    ({"items": []}, "must not be empty"), ({"items": ["a"]}, "expects list[int]"),
    ({"x": float("nan")}, "expects float"),
])
def test_bad_parameters_raise_parameter_error(kwargs, fragment):
    with pytest.raises(ParameterError) as info:
        Toy(**kwargs)
    assert fragment in str(info.value)
    assert str(info.value).startswith("toy: parameter ")


def test_frozen():
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        Toy().n = 4  # type: ignore[misc]


def test_parameters_describe_fields():
    info = {p.name: p for p in Toy.parameters()}
    assert info["n"].default == 3 and info["n"].type == "int"
    assert info["opt"].type == "float | None"
    assert type_name(tuple[int, ...]) == "list[int]"
    assert coerce([1, 2], tuple[float, float], owner="t", field="f") == (1.0, 2.0)
    with pytest.raises(ParameterError):
        coerce([1, 2, 3], tuple[float, float], owner="t", field="f")


def test_with_params():
    t = Toy().with_params(n=5)
    assert t.n == 5
    with pytest.raises(ParameterError, match="unknown parameter"):
        Toy().with_params(nope=1)
