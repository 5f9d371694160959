"""Reading YAML that is data (protocols, site mapping files): safe loader, refusals, key lines.

One home for what every YAML file of the project needs: aliases and anchors are refused (a few bytes
of nested aliases expand to billions of nodes, and a settings file has no use for them), nesting and
size are bounded, a repeated key is an error (it would silently replace the first), and every key
path gets the line it was written on, so that validation errors point at ``file:line``.
Used by ``study/protocol.py`` and ``registry/mapping.py``; it imports neither.
"""
from __future__ import annotations

MAX_NESTING = 50        # sections/lists inside each other; Python's parsers recurse per level
MAX_YAML_NODES = 20_000  # a settings file has a few hundred values; a million take PyYAML minutes


def yaml_loader():
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml's, when installed: the same events, faster


def yaml_refusals(text: str, kind: str = "protocol", max_nodes: int = MAX_YAML_NODES,
                  max_nesting: int = MAX_NESTING) -> list[tuple[str, int | None, str]]:
    """Anchors, aliases, too deep nesting and too many values, found in the event stream (which,
    unlike composing the document, neither expands aliases nor recurses, and stops at the first
    value too many). ``kind`` names the file in messages ("protocol", "mapping")."""
    import yaml

    problems, depth = [], 0
    for n, ev in enumerate(yaml.parse(text, Loader=yaml_loader())):
        line = ev.start_mark.line + 1
        if n > max_nodes:
            problems.append(("(file)", line, f"more than {max_nodes:,} values; a {kind} has a few hundred"))
            break
        if isinstance(ev, yaml.AliasEvent):
            problems.append(("(syntax)", line, f"YAML alias *{ev.anchor} is not allowed in a {kind}; "
                                               "write the value out"))
        elif getattr(ev, "anchor", None) is not None:
            problems.append(("(syntax)", line, f"YAML anchor &{ev.anchor} is not allowed in a {kind}; "
                                               "write the value out where it is used"))
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > max_nesting:
                problems.append(("(syntax)", line, f"nested more than {max_nesting} levels deep"))
                break
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
    if len(problems) > 5:   # the lines of the first five say it; hundreds of the same line do not
        problems = problems[:5] + [("(syntax)", None, f"... and {len(problems) - 5} more anchors/aliases")]
    return problems


def pretty_loc(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) if loc else "(top level)"


def nearest_line(lines: dict, loc: tuple) -> int | None:
    """The line of ``loc``, or of its nearest enclosing key that has one."""
    loc = tuple(loc)
    while loc:
        if loc in lines:
            return lines[loc]
        loc = loc[:-1]
    return lines.get(())


def yaml_lines(text: str) -> tuple[dict, list]:
    """(line of every key path, problems with keys). A repeated key would silently replace the
    first, so it is an error, as in TOML."""
    import yaml

    out: dict = {}
    duplicates: list = []
    root = yaml.compose(text, Loader=yaml_loader())

    def walk(node, path):
        out[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for k, v in node.value:
                line = k.start_mark.line + 1
                if not isinstance(k, yaml.ScalarNode):
                    duplicates.append((pretty_loc(path), line, "a key must be a name, not a list or mapping"))
                    continue
                key = k.value
                if key in seen:
                    duplicates.append((pretty_loc(path + (key,)), line,
                                       f"duplicate key {key!r} (first given at line {seen[key]})"))
                seen.setdefault(key, line)
                out[path + (key,)] = line
                walk(v, path + (key,))
                out[path + (key,)] = line
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, path + (i,))

    if root is not None:
        walk(root, ())
    return out, duplicates


def load_yaml(text: str, kind: str, max_nodes: int = MAX_YAML_NODES) -> tuple[object, dict, list]:
    """(data, key lines, problems): problems non-empty means ``data`` is None and must not be used."""
    import yaml

    try:
        refused = yaml_refusals(text, kind, max_nodes)
        if refused:
            return None, {}, refused
        lines, duplicates = yaml_lines(text)
        if duplicates:
            return None, lines, duplicates
        return yaml.load(text, Loader=yaml_loader()), lines, []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, {}, [("(syntax)", mark.line + 1 if mark else None, f"YAML syntax error: {exc}")]
