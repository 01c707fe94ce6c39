"""Error types raised by causalfolio.

Every error a user can provoke with bad input is a :class:`CausalfolioError`. Its message says what
is wrong and how to fix it, in one line; the CLI prints it and exits with status 2.
"""

from __future__ import annotations

ECHO_LIMIT = 200
"""Most characters of user input an error message repeats (see :func:`shorten`)."""


def shorten(text: str, limit: int = ECHO_LIMIT) -> str:
    """``text`` cut to ``limit`` characters (with the count of the rest), for echoing user input
    in a one-line error message: a megabyte of spec is not repeated on stderr."""
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters)"


class CausalfolioError(Exception):
    """Base class of every error causalfolio raises on purpose."""


class SpecError(CausalfolioError, ValueError):
    """A plugin spec string is malformed or names an unknown component or parameter.

    Parameters
    ----------
    message
        What is wrong, e.g. ``unknown dynamics model 'lineer'``.
    spec
        The whole spec string as the user wrote it.
    start, end
        Character offsets of the offending part inside ``spec`` (``end`` exclusive).
    hint
        A suggestion, e.g. ``did you mean 'linear'?``.
    """

    def __init__(
        self,
        message: str,
        spec: str | None = None,
        start: int | None = None,
        end: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.spec = spec
        self.start = start
        self.end = end
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = shorten(self.message, 4 * ECHO_LIMIT)
        if self.hint:
            text += f"; {shorten(self.hint, 4 * ECHO_LIMIT)}"
        if self.spec is not None:
            s = self.spec
            if self.start is not None:
                end = self.end if self.end is not None else self.start + 1
                # a long spec is shown around the marked part only
                a, b = max(0, self.start - ECHO_LIMIT // 2), end + ECHO_LIMIT // 2
                marked = (("..." if a else "") + s[a:self.start] + ">>"
                          + shorten(s[self.start:end]) + "<<" + s[end:b]
                          + (f"... ({len(s):,} characters)" if b < len(s) else ""))
                text += f" in spec: {marked}"
            else:
                text += f" in spec: {shorten(s)}"
        return text

    def caret(self) -> str:
        """Two lines: the spec and a caret line under the offending part."""
        if self.spec is None or self.start is None:
            return self.spec or ""
        end = self.end if self.end is not None else self.start + 1
        return f"{self.spec}\n{' ' * self.start}{'^' * max(1, end - self.start)}"


class ParameterError(CausalfolioError, ValueError):
    """A component parameter has the wrong type or an invalid value."""


class PluginError(CausalfolioError):
    """A plugin could not be loaded or registered (duplicate name, bad component class)."""


class DataError(CausalfolioError, ValueError):
    """Input data cannot be used: bad dates, non-numeric values, NaNs, too little history..."""


class ConfigError(CausalfolioError, ValueError):
    """An inconsistent backtest or pipeline configuration (bad bounds, windows, dates)."""


class NumericalError(CausalfolioError, ArithmeticError):
    """A numerical procedure failed in a way no documented fallback covers."""


class Terminated(KeyboardInterrupt):
    """SIGTERM received by the command line: handled like Ctrl-C (an ablation saves what finished,
    a run folder being written is removed), then exit status 143 (128 + SIGTERM)."""


class CausalfolioWarning(UserWarning):
    """Base class of the warnings causalfolio emits on purpose (a result is valid but not what
    the user probably meant)."""


class CacheIntegrityWarning(CausalfolioWarning):
    """A stage-cache entry on disk failed its keyed digest (altered, damaged, too large or sealed
    with another cache's secret), or the cache's secret cannot be trusted: the entry is not used
    and is recomputed."""


class ConstantSensitivitiesWarning(CausalfolioWarning):
    """A sensitivity forecaster received series that are constant over the window (e.g. after
    ``linear|beta``): its forecast equals ``static``, so such arms are identical."""


class CollinearDriversWarning(CausalfolioWarning):
    """The drivers selected at a rebalance are near-collinear (variance inflation factor above
    10 over the driver window): their sensitivities are poorly identified and may flip sign
    from one rebalance to the next."""


class RuinWarning(CausalfolioWarning):
    """A portfolio lost everything (its NAV reached 0): it holds nothing from that day on and its
    metrics describe a total loss."""
