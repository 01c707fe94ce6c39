"""Data layer: reading wide tables, validation, transforms, alignment and the synthetic market."""

from .io import parse_dates, read_table, write_table
from .market import Market
from .shifts import SHIFT_KINDS, Shift
from .synthetic import LABELS, SyntheticTruth, prices_from_returns, synthetic_market
from .transforms import TRANSFORMS, apply_transforms
from .validation import apply_nan_policy, check_not_constant, validate_frame

__all__ = ["LABELS", "SHIFT_KINDS", "TRANSFORMS", "Market", "Shift", "SyntheticTruth",
           "apply_nan_policy",
           "apply_transforms", "check_not_constant", "parse_dates", "prices_from_returns",
           "read_table", "synthetic_market", "validate_frame", "write_table"]
