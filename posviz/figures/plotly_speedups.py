"""Five pure functions inside plotly, made cheaper; each gives plotly's own answer, faster.

Building figures on cache misses was about half of the server's GIL time under a
class's load (py-spy ``--gil``, 20 sessions); these were the parts of it spent on
work whose answer never changes. Installed once, on import of
``posviz.figures.style`` (every builder imports it); each is idempotent and
tested equal to plotly's own (``tests/test_figure_style.py``).
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import plotly.basedatatypes


def _memoize_plotly_paths() -> None:
    """Parse each plotly property path ("xaxis.title.text", "marker_color") once per process.

    Every property a builder sets or reads goes through plotly's
    ``_str_to_dict_path_full``, a pure function of the string that splits it on
    ".[]_" with several list passes. Under a class's load it was 15% of the
    server's GIL time (py-spy); builders use a few hundred distinct paths, so a
    cache makes it free. The result is the same tuples (``tests/test_figure_style.py``).
    """
    parse = plotly.basedatatypes._str_to_dict_path_full
    if hasattr(parse, "cache_info"):
        return

    @lru_cache(maxsize=4096)
    def cached(path: str):
        keys, starts = parse(path)
        return keys, tuple(starts)

    def parse_once(path):
        return cached(path) if isinstance(path, str) else parse(path)

    parse_once.cache_info = cached.cache_info
    parse_once.__wrapped__ = parse
    plotly.basedatatypes._str_to_dict_path_full = parse_once


def _plain_arrays_skip_narwhals() -> None:
    """Let plotly's array validation skip asking narwhals whether a numpy array is a dataframe column.

    ``copy_to_readonly_numpy_array`` passes every array a builder hands plotly
    through ``narwhals.from_native(v, pass_through=True)`` (~0.1 ms each, ~8% of
    building a figure), which hands a numpy array, list or tuple back unchanged.
    This answers that for those three types without the lookup; anything else
    (a pandas or polars column) still goes to narwhals. Same arrays either way
    (``tests/test_figure_style.py``).
    """
    import _plotly_utils.basevalidators as validators

    if isinstance(validators.nw, _NarwhalsForPlainArrays):
        return
    validators.nw = _NarwhalsForPlainArrays(validators.nw)


class _NarwhalsForPlainArrays:
    """The ``narwhals.stable.v1`` module as plotly's validators see it, with ``from_native`` short-cut."""

    PLAIN = (np.ndarray, list, tuple)

    def __init__(self, narwhals):
        self._narwhals = narwhals
        self.Series = narwhals.Series  # read for every value plotly checks: skip __getattr__ for it

    def __getattr__(self, name):
        return getattr(self._narwhals, name)

    def from_native(self, value, *args, **kwargs):
        if type(value) in self.PLAIN and kwargs.get("pass_through"):
            return value
        return self._narwhals.from_native(value, *args, **kwargs)


def _validators_from_the_cache() -> None:
    """Look a property's validator up in plotly's cache without re-importing the cache on every call.

    ``BasePlotlyType._get_validator`` runs a relative import statement
    (``from .validator_cache import ValidatorCache``) on every property read or
    write, then asks the cache; the import alone was 10% of building a figure.
    This reads the same cache dict (filled by plotly's own ``get_validator``), so
    it returns the very same validator objects.
    """
    from plotly.validator_cache import ValidatorCache

    base = plotly.basedatatypes.BasePlotlyType
    if getattr(base._get_validator, "from_cache", False):
        return
    cache, build = ValidatorCache._cache, ValidatorCache.get_validator

    def _get_validator(self, prop):
        try:
            return cache[(self._path_str, prop)]
        except (KeyError, TypeError):  # first use of this property (or an unhashable one: plotly's error)
            return build(self._path_str, prop)

    _get_validator.from_cache = True
    _get_validator.__wrapped__ = base._get_validator
    base._get_validator = _get_validator


@lru_cache(maxsize=256)
def _anchored(pattern: str, flags: int) -> re.Pattern:
    return re.compile("(?:" + pattern + r")\Z", flags)


def _fullmatch_without_dir() -> None:
    """plotly's ``fullmatch`` (a Python 2 back-port) calls ``dir()`` on the regex, a sorted list of ~40
    names, for every colour, colour scale entry and enumerated value it validates. Same anchored pattern,
    compiled once: the same matches."""
    import _plotly_utils.basevalidators as validators

    if getattr(validators.fullmatch, "anchored", False):
        return
    original = validators.fullmatch

    def fullmatch(regex, string, flags=0):
        pattern = regex.pattern if isinstance(regex, re.Pattern) else regex
        return _anchored(pattern, flags).match(string)

    fullmatch.anchored = True
    fullmatch.__wrapped__ = original
    validators.fullmatch = fullmatch


_NOT_ARRAYS = frozenset({str, int, float, bool, type(None), dict, list, tuple})


def _scalars_are_not_arrays() -> None:
    """Answer plotly's "is this a numpy-like array?" for Python's own types without asking numpy.

    ``to_dict`` walks every value of a figure through ``is_homogeneous_array``:
    two module lookups and ``hasattr(v, "__array__")``, which raises and catches
    an AttributeError for every string and number. For these exact built-in types
    plotly's answer is always False (none has ``__array__``); anything else, a
    numpy array included, gets plotly's own check.
    """
    import _plotly_utils.basevalidators as validators
    import _plotly_utils.utils as utils

    original = validators.is_homogeneous_array
    if getattr(original, "builtins_first", False):
        return

    def is_homogeneous_array(v):
        if type(v) in _NOT_ARRAYS:
            return False
        return original(v)

    is_homogeneous_array.builtins_first = True
    is_homogeneous_array.__wrapped__ = original
    validators.is_homogeneous_array = utils.is_homogeneous_array = is_homogeneous_array


for _install in (_memoize_plotly_paths, _plain_arrays_skip_narwhals, _validators_from_the_cache,
                 _fullmatch_without_dir, _scalars_are_not_arrays):
    _install()
