"""Input checks shared by every risk mapping (one behaviour, one message, one place)."""

from __future__ import annotations

from causalfolio._lazy import np
from causalfolio.errors import ConfigError, DataError
from causalfolio.stages import MappingInputs

SYMMETRY_TOL = 1e-8
"""Largest accepted ``max |D - D'|`` relative to ``max(1, max |D|)``: rounding, symmetrised."""


def checked_distance(inputs: MappingInputs, owner: str) -> np.ndarray:
    """The sensitivity distance matrix (N, N) from ``inputs``: finite, symmetric, checked.

    An asymmetry within :data:`SYMMETRY_TOL` (rounding in a forecaster) is removed by taking
    ``(D + D') / 2``; a larger one is an error rather than silently averaged away.

    Raises
    ------
    ConfigError
        No distance matrix (the mapping was called without stages 1-4).
    DataError
        Wrong shape, non-finite entries, or asymmetric beyond the tolerance.
    """
    n = len(inputs.assets)
    if inputs.distance is None:
        raise ConfigError(f"{owner}: no sensitivity distance matrix was given; run it as the "
                          "last stage of a five-stage spec (drivers|dynamics|sensitivities|"
                          "forecast|mapping)")
    d = np.asarray(inputs.distance, dtype=float)
    if d.shape != (n, n):
        raise DataError(f"{owner}: distance matrix has shape {d.shape}, expected ({n}, {n})")
    if not np.all(np.isfinite(d)):
        raise DataError(f"{owner}: the distance matrix has non-finite entries")
    scale = max(1.0, float(np.abs(d).max(initial=0.0)))
    asym = float(np.abs(d - d.T).max(initial=0.0))
    if asym > SYMMETRY_TOL * scale:
        raise DataError(f"{owner}: the distance matrix is not symmetric (max |D - D'| = "
                        f"{asym:.3g} > {SYMMETRY_TOL:g} x {scale:.3g}); symmetrise it in the "
                        "forecaster")
    return 0.5 * (d + d.T)
