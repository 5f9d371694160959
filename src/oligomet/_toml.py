"""Where each key of a TOML file is: tomllib keeps no positions, so protocols, board rule files and case files
map key paths to line numbers by scanning the text. The YAML side is :mod:`oligomet._yaml`."""
from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=""")


def _key_parts(raw: str) -> tuple:
    parts = []
    for p in re.findall(r'"[^"]*"|\'[^\']*\'|[^.\s]+', raw):
        parts.append(p.strip("\"'"))
    return tuple(parts)


def toml_lines(text: str) -> dict:
    """Map key paths to line numbers by scanning the text (tomllib keeps no positions).

    Handles ``[table]``, ``[[array.of.tables]]`` (with running indices), dotted keys and the
    first line of inline tables/arrays; a path inside an inline value maps to its key's line.
    """
    out: dict = {(): 1}
    counters: dict[tuple, int] = {}
    current: tuple = ()
    depth = 0  # bracket depth of a multi-line array value: its lines hold no keys
    for no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if depth > 0:
            depth += stripped.count("[") - stripped.count("]")
            continue
        if not stripped or stripped.startswith("#"):
            continue
        m = _HEADER.match(line)
        if m and "=" not in stripped.split("]")[0]:
            keys = _key_parts(m.group(2))
            if m.group(1) == "[[":
                # index among earlier [[same]] headers under the same parent instance
                parent = _resolve(keys[:-1], counters)
                base = parent + (keys[-1],)
                i = counters.get(base, -1) + 1
                counters[base] = i  # nested arrays resolve through this index, so no reset is needed
                current = base + (i,)
                out.setdefault(base, no)
            else:
                current = _resolve(keys, counters)
            out[current] = no
            continue
        m = _KEY.match(line)
        if m:
            keys = _key_parts(m.group(1))
            for j in range(1, len(keys) + 1):
                out.setdefault(current + keys[:j], no)
            out[current + keys] = no
            value = line[m.end():]
            value = value.split("#")[0] if '"' not in value and "'" not in value else value
            depth = max(0, value.count("[") - value.count("]"))
    return out


def _resolve(keys: tuple, counters: dict) -> tuple:
    """Insert the current array-of-tables index after every key that names one."""
    path: tuple = ()
    for k in keys:
        path = path + (k,)
        if path in counters:
            path = path + (counters[path],)
    return path
