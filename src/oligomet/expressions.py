"""The one evaluator of expressions written in files: protocols, formulas, rule and mapping files.

Text from a file is data. A protocol e-mailed from another hospital must never run code, so no
such text reaches ``eval``, ``exec``, ``DataFrame.eval`` or ``DataFrame.query``. Instead
:func:`parse_expression` parses it with :mod:`ast`, checks every node against a short whitelist
and returns an :class:`Expression`; :func:`evaluate` walks that checked tree over a DataFrame's
columns, one vectorised operation per node.

The language (anything else is refused, naming the offending token):

* column names, or any name in backticks (```tumour size```); numbers, strings, ``True``,
  ``False``, ``None``;
* comparisons ``== != < <= > >=``, also chained (``0 < x <= 5``), and ``in`` / ``not in`` a
  literal list or tuple (``site in ['lung', 'liver']``);
* arithmetic ``+ - * / // % **`` and unary ``-``;
* ``and``, ``or``, ``not``, row by row;
* the functions of :data:`FUNCTIONS`: ``log log10 log1p sqrt exp abs``, ``isna(x)``,
  ``notna(x)``, ``days_between(start, end)`` and ``months_between(start, end)`` (months of
  30.4375 days, as the endpoints use).

Refused: attribute access (``x.y``), subscripts (``x[0]``), calls of anything else, names with
double underscores, ``@`` (pandas' reference to a Python variable), ``& | ~ ^`` (write ``and``,
``or``, ``not``), lambdas, comprehensions, ``:=``, f-strings, starred arguments. An expression is
at most :data:`MAX_LENGTH` characters and :data:`MAX_DEPTH` levels deep, so that a hostile one
gives a clear error instead of exhausting the stack.

Missing values: a comparison on a missing value is False, as in pandas; arithmetic gives NaN.
With ``propagate_missing=True`` every row where a column the expression reads is missing (other
than inside ``isna``/``notna``) becomes missing, so that "unknown" stays unknown.

Callers: ``study/protocol.py`` checks protocol expressions while validating the file (so the error
carries file and line), ``study/cohort.py`` evaluates them, ``survival/design.py`` evaluates formula
terms. For one record (e.g. the facts of one case) evaluate on ``pd.DataFrame([facts])``;
``Expression.names`` lists the columns (facts) an expression needs.
"""
from __future__ import annotations

import ast
import functools
import io
import operator
import re
import tokenize
from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_LENGTH = 2000
MAX_DEPTH = 50
DAYS_PER_MONTH = 365.25 / 12   # the mean Gregorian month, the month of every time in months (endpoints/)


class ExpressionError(ValueError):
    """An expression that is refused or cannot be evaluated; ``problem`` says why, naming the token."""

    def __init__(self, problem: str, *, source: str | None = None):
        self.problem = problem
        self.source = source
        super().__init__(f"{source}: {problem}" if source else problem)


def _dates(v):
    if isinstance(v, pd.Series):
        return v if pd.api.types.is_datetime64_any_dtype(v) else pd.to_datetime(v, errors="coerce")
    return pd.NaT if v is None else pd.Timestamp(v)


def _days_between(start, end):
    return (_dates(end) - _dates(start)) / pd.Timedelta(days=1)


#: The functions an expression may call: name -> (number of arguments, implementation).
FUNCTIONS = {
    "log": (1, np.log), "log10": (1, np.log10), "log1p": (1, np.log1p), "sqrt": (1, np.sqrt),
    "exp": (1, np.exp), "abs": (1, np.abs),
    "isna": (1, pd.isna), "notna": (1, pd.notna),
    "days_between": (2, _days_between),
    "months_between": (2, lambda a, b: _days_between(a, b) / DAYS_PER_MONTH),
}
_MISSING_TESTS = ("isna", "notna")   # their argument being missing is the answer, not "unknown"

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**"}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge}
_BITWISE = {ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.Invert: "~", ast.LShift: "<<",
            ast.RShift: ">>", ast.MatMult: "@"}
_NAMES = {ast.Lambda: "a lambda",
          ast.ListComp: "a comprehension", ast.SetComp: "a comprehension", ast.DictComp: "a comprehension",
          ast.GeneratorExp: "a comprehension", ast.NamedExpr: "':='", ast.JoinedStr: "an f-string",
          ast.Starred: "a starred argument", ast.IfExp: "'if ... else'", ast.Dict: "a dict",
          ast.Await: "'await'", ast.Yield: "'yield'", ast.Slice: "a slice"}
_ALLOWED = (ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare,
            ast.Call, ast.keyword, ast.List, ast.Tuple, ast.Set, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)
# strings and backtick-quoted names; a backtick inside a string literal is just a character
_QUOTED = re.compile(r"""('(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")|`([^`]*)`""", re.S)


@dataclass(frozen=True)
class Expression:
    """A checked expression: ``names`` are the columns it reads, in order of first use."""

    text: str
    tree: ast.Expression
    names: tuple
    aliases: tuple = ()        # (placeholder identifier, backtick-quoted column name)
    masking: tuple = ()        # the columns whose missing value makes the result missing

    def __str__(self) -> str:
        return self.text


def parse_expression(text: str, *, source: str | None = None) -> Expression:
    """Parse and check ``text``; raises :class:`ExpressionError` (prefixed with ``source``, e.g. the
    file and line or the formula term) naming the first refused tokens."""
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be text, got {text!r}", source=source)
    try:
        return _parse(text)
    except ExpressionError as exc:
        raise ExpressionError(exc.problem, source=source) from None


@functools.lru_cache(maxsize=512)
def _parse(text: str) -> Expression:
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is {len(text):,} characters long; at most {MAX_LENGTH:,} "
                              f"are allowed")
    code, aliases = _replace_backticks(text.strip())
    _refuse_at_sign(code)
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError as exc:
        if "too many nested" in str(exc):
            raise _too_deep() from None
        raise ExpressionError(f"cannot parse {text!r}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise _too_deep() from None
    if _depth(tree) > MAX_DEPTH:
        raise _too_deep()
    refused = sorted(_refusals(tree, code, dict(aliases)))
    if refused:
        shown = "; ".join(f"{tok!r} ({why})" for _, tok, why in refused[:3])
        more = f" and {len(refused) - 3} more" if len(refused) > 3 else ""
        raise ExpressionError(f"not allowed in an expression: {shown}{more}. Allowed: column names, numbers, "
                              f"strings, comparisons, arithmetic, and/or/not, 'in' a list, and the functions "
                              f"{', '.join(FUNCTIONS)}")
    names = {a: n for a, n in aliases}
    used, masking = _columns(tree.body, names, inside_test=False)
    return Expression(text=text, tree=tree, names=tuple(dict.fromkeys(used)), aliases=tuple(aliases),
                      masking=tuple(dict.fromkeys(masking)))


def _too_deep() -> ExpressionError:
    return ExpressionError(f"the expression is nested more than {MAX_DEPTH} levels deep")


def _replace_backticks(text: str) -> tuple[str, list]:
    """```any name``` -> a placeholder identifier that occurs nowhere in the text."""
    prefix = "_col"
    while prefix in text:
        prefix += "_"
    aliases: list = []

    def sub(m):
        if m.group(2) is None:
            return m.group(1)
        aliases.append((f"{prefix}{len(aliases)}", m.group(2)))
        return aliases[-1][0]

    return _QUOTED.sub(sub, text), aliases


def _refuse_at_sign(code: str) -> None:
    # '@name' is pandas' lookup of a Python variable and not valid Python, so name it before ast.parse
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.OP and "@" in tok.string:
                raise ExpressionError(f"not allowed in an expression: {tok.string!r} (a reference to a Python "
                                      f"variable or a matrix product)")
    except (tokenize.TokenError, SyntaxError):
        pass   # ast.parse reports the syntax error


def _depth(tree: ast.AST) -> int:
    """Nesting depth, without recursion (the tree may be deeper than Python's stack)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _refusals(tree: ast.AST, code: str, aliases: dict):  # noqa: C901  (a dispatch over the closed whitelist of syntax nodes)
    """(position, token, reason) of every refused node."""
    def token(node):
        seg = ast.get_source_segment(code, node) or type(node).__name__
        for alias, name in aliases.items():
            seg = seg.replace(alias, f"`{name}`")
        return seg if len(seg) <= 40 else seg[:37] + "..."

    def pos(node):
        return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))

    lists = {id(r) for n in ast.walk(tree) if isinstance(n, ast.Compare)
             for op, r in zip(n.ops, n.comparators) if isinstance(op, (ast.In, ast.NotIn))}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):   # positioned at '.attr', not at the start of the chain
            yield (node.end_lineno, node.end_col_offset - len(node.attr)), f".{node.attr}", "attribute access"
        elif isinstance(node, ast.Subscript):
            yield (node.value.end_lineno, node.value.end_col_offset), f"[{token(node.slice)}]", "a subscript"
        elif isinstance(node, ast.Name) and "__" in node.id:
            yield pos(node), node.id, "a name with double underscores"
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else None
            if name is None or "__" in name:
                continue   # the attribute, subscript or name that names it is reported
            if name not in FUNCTIONS:
                yield pos(node), f"{name}(", "not a known function"
            elif node.keywords or len(node.args) != FUNCTIONS[name][0] or \
                    any(isinstance(a, ast.Starred) for a in node.args):
                yield pos(node), token(node), f"{name} takes {FUNCTIONS[name][0]} argument(s), without names"
        elif isinstance(node, (ast.BinOp, ast.UnaryOp)) and type(node.op) in _BITWISE:
            yield pos(node), _BITWISE[type(node.op)], "write and, or, not"
        elif isinstance(node, ast.Compare):
            for op, right in zip(node.ops, node.comparators):
                if isinstance(op, (ast.Is, ast.IsNot)):
                    yield pos(node), "is", "write isna(x) or notna(x)"
                elif isinstance(op, (ast.In, ast.NotIn)) and not (
                        isinstance(right, (ast.List, ast.Tuple, ast.Set))
                        and all(isinstance(e, ast.Constant) for e in right.elts)):
                    yield pos(right), token(right), "'in' takes a list of values, e.g. x in ['a', 'b']"
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)) and id(node) not in lists:
            yield pos(node), token(node), "a list is allowed only after 'in'"
        elif isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, type(None))):
            yield pos(node), token(node), "not a number, string, True, False or None"
        elif not isinstance(node, _ALLOWED):   # a whitelist: every other kind of node is refused
            yield pos(node), token(node), _NAMES.get(type(node), "not part of the expression language")


def _columns(node: ast.AST, aliases: dict, inside_test: bool) -> tuple[list, list]:
    """(all columns read, columns read outside isna/notna), in order of first use."""
    used, masking = [], []
    if isinstance(node, ast.Name):
        name = aliases.get(node.id, node.id)
        used.append(name)
        if not inside_test:
            masking.append(name)
        return used, masking
    test = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _MISSING_TESTS
    for child in ast.iter_child_nodes(node):
        if isinstance(node, ast.Call) and child is node.func:
            continue
        u, m = _columns(child, aliases, inside_test or test)
        used += u
        masking += m
    return used, masking


# --- evaluation ----------------------------------------------------------------------------------

def evaluate(expr: Expression | str, frame: pd.DataFrame, *, propagate_missing: bool = False):
    """The value of ``expr`` on every row of ``frame``: a Series on ``frame``'s index (a scalar when
    the expression reads no column). Raises :class:`ExpressionError` for an unknown column or a
    value that cannot be computed (e.g. text compared with a number)."""
    if isinstance(expr, str):
        expr = parse_expression(expr)
    unknown = [n for n in expr.names if n not in frame.columns]
    if unknown:
        raise ExpressionError(f"unknown column {unknown[0]!r} in {expr.text!r}; available columns: "
                              f"{', '.join(map(str, frame.columns))}")
    columns = {alias: frame[name] for alias, name in expr.aliases}
    try:
        value = _eval(expr.tree.body, frame, columns)
    except ExpressionError:
        raise
    except Exception as exc:   # numpy/pandas raise TypeError, ValueError ... for values that do not fit
        raise ExpressionError(f"cannot evaluate {expr.text!r}: {exc}") from None
    if isinstance(value, (pd.Series, pd.Index, np.ndarray)):
        value = pd.Series(np.asarray(value) if not isinstance(value, pd.Series) else value, index=frame.index)
        if propagate_missing:
            value = _mask_missing(value, frame, expr.masking)
    return value


def _mask_missing(value: pd.Series, frame: pd.DataFrame, names: tuple) -> pd.Series:
    if not names:
        return value
    na = frame[list(names)].isna().any(axis=1)
    if not na.any():
        return value
    if value.dtype == bool:
        value = value.astype("boolean")
    elif not pd.api.types.is_float_dtype(value) and not isinstance(value.dtype, pd.BooleanDtype):
        value = value.astype(object)
    return value.mask(na)


def _eval(node: ast.AST, frame: pd.DataFrame, columns: dict):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return columns[node.id] if node.id in columns else frame[node.id]
    if isinstance(node, ast.BinOp):
        return _arithmetic(type(node.op), _eval(node.left, frame, columns), _eval(node.right, frame, columns))
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, frame, columns)
        if isinstance(node.op, ast.Not):
            return ~v if isinstance(v, pd.Series) else not v
        return -v if isinstance(node.op, ast.USub) else +v
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, frame, columns) for v in node.values]
        combine = _and if isinstance(node.op, ast.And) else _or
        out = values[0]
        for v in values[1:]:
            out = combine(out, v)
        return out
    if isinstance(node, ast.Compare):
        left, out = _eval(node.left, frame, columns), None
        for op, right_node in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)):
                values = [e.value for e in right_node.elts]
                hit = left.isin(values) if isinstance(left, pd.Series) else left in values
                part, right = (hit if isinstance(op, ast.In) else _not(hit)), None
            else:
                right = _eval(right_node, frame, columns)
                part = _COMPARE[type(op)](left, right)
            out = part if out is None else _and(out, part)
            left = right
        return out
    if isinstance(node, ast.Call):
        return FUNCTIONS[node.func.id][1](*(_eval(a, frame, columns) for a in node.args))
    raise ExpressionError(f"not allowed in an expression: {type(node).__name__}")   # pragma: no cover


def _arithmetic(op: type, a, b):
    # Text times a number, or Python's exact integers in 9 ** 9 ** 9, would take unbounded memory or time.
    if op is not ast.Add and (_is_text(a) or _is_text(b)):
        raise ExpressionError(f"'{_SYMBOLS[op]}' needs numbers, not text")
    if op is ast.Pow and not isinstance(a, pd.Series) and not isinstance(b, pd.Series):
        a, b = float(a), float(b)
    return _BINARY[op](a, b)


def _is_text(v) -> bool:
    if isinstance(v, pd.Series):
        return not isinstance(v.dtype, pd.CategoricalDtype) and pd.api.types.is_string_dtype(v)
    return isinstance(v, str)


def _not(v):
    return ~v if isinstance(v, pd.Series) else not v


def _and(a, b):
    if isinstance(a, pd.Series) or isinstance(b, pd.Series):
        return a & b
    return a and b


def _or(a, b):
    if isinstance(a, pd.Series) or isinstance(b, pd.Series):
        return a | b
    return a or b
