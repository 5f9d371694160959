"""Reading a protocol file: size and nesting limits, TOML/YAML parsing with the line of every key, and the
errors that name the field, its line and what is allowed. The schema it validates against is
:mod:`oligomet.study.protocol`.

A protocol may come from another hospital: nothing in it is executed (expressions go through
:mod:`oligomet.expressions`), YAML aliases and tags are refused before they expand, and a file over the limits
is refused before it is parsed."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from .._file_problems import validation_problems
from .._toml import toml_lines
from .._yaml import nearest_line, pretty_loc, yaml_lines, yaml_loader, yaml_refusals
from .protocol import Protocol, _reference_problems

MAX_BYTES = 1_000_000   # a protocol is a page of settings; a larger file is a mistake or an attack
MAX_NESTING = 50        # sections/lists/tables inside each other; Python's parsers recurse per level
MAX_YAML_NODES = 20_000  # a protocol has a few hundred values; a million take PyYAML minutes


class ProtocolError(ValueError):
    """A protocol problem: ``problems`` is a list of (field path, line or None, message)."""

    def __init__(self, path: str | Path | None, problems: list[tuple[str, int | None, str]]):
        self.path = str(path) if path is not None else "<protocol>"
        self.problems = problems
        lines = [f"{self.path}:{line if line is not None else '?'}: {field}: {msg}" for field, line, msg in problems]
        super().__init__(f"invalid protocol ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n" +
                         "\n".join(lines))


def _yaml_refusals(text: str) -> list[tuple[str, int | None, str]]:
    return yaml_refusals(text, "protocol", MAX_YAML_NODES, MAX_NESTING)


def _nesting(data) -> int:
    """Depth of nested dicts/lists, without recursion."""
    deepest, stack = 0, [(data, 0)]
    while stack and deepest <= MAX_NESTING:
        node, d = stack.pop()
        deepest = max(deepest, d)
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((c, d + 1) for c in children)
    return deepest


def _deep_dotted_key(text: str) -> int | None:
    """The first line whose key has more than MAX_NESTING dotted parts: tomllib takes quadratic time
    in their number (a 100 kB key takes minutes), so such a file is refused before parsing."""
    for no, line in enumerate(text.splitlines(), start=1):
        if line.split("=", 1)[0].count(".") > MAX_NESTING:
            return no
    return None


def _too_deep(text: str, path) -> ProtocolError:
    """Nesting beyond MAX_NESTING, located at the first line that opens that many inline arrays/tables
    or holds that many dotted keys (brackets inside strings may shift it, which only moves the pointer)."""
    depth, at = 0, None
    for no, line in enumerate(text.splitlines(), start=1):
        if line.split("=", 1)[0].count(".") > MAX_NESTING:
            at = no
        for ch in line:
            depth += (ch in "[{") - (ch in "]}")
            at = at or (no if depth > MAX_NESTING else None)
        if at:
            break
    return ProtocolError(path, [("(syntax)", at, f"nested more than {MAX_NESTING} levels deep")])


_pretty_loc = pretty_loc


def _field_names(loc: tuple) -> list[str]:
    """The field names allowed at ``loc``'s parent, for unknown-field errors."""
    model: Any = Protocol
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        fields = getattr(model, "model_fields", {})
        info = next((f for n, f in fields.items() if n == part or f.alias == part), None)
        if info is None:
            return []
        model = _inner_model(info.annotation)
        if model is None:
            return []
    fields = getattr(model, "model_fields", {})
    return [f.alias or n for n, f in fields.items()]


def _inner_model(tp):
    import typing

    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in typing.get_args(tp):
        m = _inner_model(arg)
        if m is not None:
            return m
    return None


def _unknown_field(loc: tuple) -> str:
    allowed = _field_names(loc)
    return f"unknown field {loc[-1]!r}" + (f"; allowed: {', '.join(allowed)}" if allowed else "")


def from_mapping(data: dict, *, lines: dict | None = None, path: str | Path | None = None,
                 text: str = "") -> Protocol:
    """Validate a parsed protocol (a dict); errors carry field paths and line numbers."""
    lines = lines or {}
    try:
        proto = Protocol.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, lines, unknown=_unknown_field)
        raise ProtocolError(path, problems) from None
    refs = _reference_problems(proto)
    if refs:
        raise ProtocolError(path, [(pretty_loc(loc), nearest_line(lines, loc), msg) for loc, msg in refs])
    proto._lines = lines
    proto._source_path = str(path) if path is not None else None
    proto._text_hash = hashlib.sha256(text.encode()).hexdigest() if text else \
        hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()
    return proto


def loads(text: str, fmt: Literal["toml", "yaml"], *, path: str | Path | None = None) -> Protocol:
    """Parse and validate protocol text."""
    if len(text) > MAX_BYTES:
        raise ProtocolError(path, [("(file)", None, f"the protocol is {len(text):,} characters long; "
                                                    f"at most {MAX_BYTES:,} are allowed")])
    if fmt == "toml":
        import tomllib

        if _deep_dotted_key(text):
            raise _too_deep(text, path)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"line (\d+)", str(exc))
            raise ProtocolError(path, [("(syntax)", int(m.group(1)) if m else None, f"TOML syntax error: {exc}")]
                                ) from None
        except RecursionError:   # tomllib recurses once per nested inline array/table
            raise _too_deep(text, path) from None
        if _nesting(data) > MAX_NESTING:
            raise _too_deep(text, path)
        lines = toml_lines(text)
    elif fmt == "yaml":
        import yaml

        try:
            refused = _yaml_refusals(text)
            if refused:
                raise ProtocolError(path, refused)
            lines, duplicates = yaml_lines(text)
            if duplicates:
                raise ProtocolError(path, duplicates)
            data = yaml.load(text, Loader=yaml_loader())
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ProtocolError(path, [("(syntax)", mark.line + 1 if mark else None, f"YAML syntax error: {exc}")]
                                ) from None
        if not isinstance(data, dict):
            raise ProtocolError(path, [("(top level)", 1, "a protocol must be a mapping of fields")])
    else:
        raise ValueError(f"unknown protocol format {fmt!r}; allowed: toml, yaml")
    return from_mapping(data, lines=lines, path=path, text=text)


def load(path: str | Path) -> Protocol:
    """Read a protocol file (``.toml``, ``.yaml`` or ``.yml``)."""
    path = Path(path)
    if not path.is_file():
        raise ProtocolError(path, [("(file)", None, "no such file")])
    if path.stat().st_size > MAX_BYTES:   # before reading it into memory
        raise ProtocolError(path, [("(file)", None, f"the file is {path.stat().st_size:,} bytes; a protocol "
                                                    f"is at most {MAX_BYTES:,} bytes")])
    suffix = path.suffix.lower()
    fmt = {"toml": "toml", "yaml": "yaml", "yml": "yaml"}.get(suffix.lstrip("."))
    if fmt is None:
        raise ProtocolError(path, [("(file)", None,
                                    f"unknown protocol format {suffix!r}; allowed: .toml, .yaml, .yml")])
    return loads(path.read_text(encoding="utf-8"), fmt, path=path)
