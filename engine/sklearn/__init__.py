"""causalfolio inside skfolio and scikit-learn (the ``skfolio`` extra).

* :class:`SensitivityDistance`: a skfolio distance estimator (``skfolio.distance.BaseDistance``)
  computing causalfolio's sensitivity distance from asset returns ``X`` and candidate driver
  returns ``y``; skfolio's ``HierarchicalRiskParity``, ``HierarchicalEqualRiskContribution``,
  ``SchurComplementary`` and ``NestedClustersOptimization`` cluster on it.
* :class:`CausalFactorModel`: a skfolio prior estimator (``skfolio.prior.BasePrior``) whose
  factors are the selected drivers and whose loadings are the (forecast) sensitivities: mean,
  covariance ``B Sigma_D B' + Sigma_res`` and scenarios for any skfolio optimiser.
* :class:`CausalPortfolio`: a whole causalfolio pipeline as a skfolio portfolio estimator
  (``fit(X, y)`` -> ``weights_``, ``predict(X)`` -> ``skfolio.Portfolio``), usable with skfolio's
  ``WalkForward``, ``CombinatorialPurgedCV`` and scikit-learn's ``GridSearchCV``.

Importing this module imports skfolio and scikit-learn; ``import causalfolio`` does not.
See ``docs/interop.md``.
"""

from __future__ import annotations

try:
    import skfolio  # noqa: F401
except ImportError:  # pragma: no cover - exercised by tests that block the import
    raise ImportError(
        "causalfolio.sklearn needs the package 'skfolio'; install the optional extra: "
        "pip install 'causalfolio[skfolio]' (or pip install skfolio)"
    ) from None

from .distance import SensitivityDistance
from .factor_model import CausalFactorModel
from .portfolio import STAGE_PARAM_SEP, CausalPortfolio

__all__ = ["CausalFactorModel", "CausalPortfolio", "STAGE_PARAM_SEP", "SensitivityDistance"]
