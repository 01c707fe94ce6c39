"""Built-in components of causalfolio, one subpackage per stage.

Every public module below this package is a pluggy plugin registered exactly like a third-party
one (see :mod:`causalfolio.hookspecs`); modules whose name starts with ``_`` hold shared code.
"""
