"""Spec strings: parsing, canonical formatting and brace expansion."""

from .expand import MAX_COMBINATIONS, count_spec, expand_spec
from .format import format_component, format_value
from .parser import ComponentCall, parse_call, parse_parts, split_parts

__all__ = ["MAX_COMBINATIONS", "ComponentCall", "count_spec", "expand_spec", "format_component",
           "format_value", "parse_call", "parse_parts", "split_parts"]
