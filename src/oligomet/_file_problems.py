"""Pydantic's validation errors told in a data file's terms: the dotted field path, the line in the file and
what is wrong, for protocols and site mapping files alike (``(field, line, message)`` triples)."""
from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from ._yaml import nearest_line, pretty_loc

_BRANCH_TAGS = {"str", "int", "float", "bool"}   # pydantic names the union/literal branch it tried in ``loc``


def _file_loc(loc: tuple, extra_tags: frozenset) -> tuple:
    """``loc`` without pydantic's own parts: validator names, union branch tags, generic types."""
    return tuple(p for p in loc if not (isinstance(p, str) and (p.startswith("function-") or "[" in p
                                                                 or p in _BRANCH_TAGS or p in extra_tags)))


def validation_problems(exc: ValidationError, lines: dict, *, unknown: Callable[[tuple], str],
                        line_of: Callable[[dict, tuple], int | None] = nearest_line,
                        extra_tags: frozenset = frozenset()) -> list[tuple[str, int | None, str]]:
    """One ``(field, line, message)`` per error. ``unknown(loc)`` words an unknown key (with what is allowed
    there); a fixed list of values says which are allowed."""
    out = []
    for err in exc.errors():
        loc = _file_loc(err["loc"], extra_tags)
        if err["type"] == "extra_forbidden":
            msg = unknown(loc)
        elif err["type"] == "literal_error":
            msg = f"{err.get('input')!r} is not allowed; allowed: {err['ctx']['expected']}"
        else:
            msg = err["msg"].removeprefix("Value error, ")
        out.append((pretty_loc(loc), line_of(lines, loc), msg))
    return out
