"""causalfolio: causal, sensitivity-based portfolio optimization.

Pick the common causal drivers of a portfolio, model how each asset responds to them, embed the
assets in that sensitivity space, forecast how it moves, map it to weights, and backtest every
combination walk-forward.
"""

from .errors import (
    CausalfolioError,
    ConfigError,
    DataError,
    NumericalError,
    ParameterError,
    PluginError,
    SpecError,
)
from .hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "CausalfolioError", "ConfigError", "DataError", "NumericalError", "ParameterError",
    "PluginError", "SpecError", "hookimpl", "__version__",
    "Market", "synthetic_market", "parse_spec", "expand_spec", "Pipeline", "Windows",
    "BacktestConfig", "run_backtest", "get_registry",
]


def __dir__() -> list[str]:
    # dir(causalfolio) and tab completion list the lazily loaded names too.
    return sorted({*globals(), *__all__})


def __getattr__(name: str):
    # Lazy imports keep `import causalfolio` light and let plugins import `hookimpl` first.
    if name in ("Market", "synthetic_market"):
        from . import data

        return getattr(data, name)
    if name in ("parse_spec", "Pipeline", "Windows"):
        from . import pipeline

        return getattr(pipeline, name)
    if name == "expand_spec":
        from .spec import expand_spec

        return expand_spec
    if name in ("BacktestConfig", "run_backtest"):
        from . import backtest

        return getattr(backtest, name)
    if name == "get_registry":
        from .registry import get_registry

        return get_registry
    raise AttributeError(f"module 'causalfolio' has no attribute {name!r}")
