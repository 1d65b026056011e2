"""Target equations over metric columns (AutoBuild paper, Sec. 7: ``acc``, ``acc*100/latency_gpu``,
``100**acc/(log10(latency_gpu+1)+1)``, ``sqrt(pq)-sqrt(flops)``, ``-latency_cpu``...).

The text is parsed with :mod:`ast` and evaluated by walking the tree on ``float64`` numpy arrays.
Only numbers, metric names, unary ``+``/``-``, binary ``+ - * / ** %``, parentheses and calls of a
few numpy functions by bare name are allowed; nothing of the text is ever compiled or executed as
Python code.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import AutobuildError

MAX_LENGTH = 1000

#: Allowed functions: name -> (numpy function, number of arguments).
FUNCTIONS: dict[str, tuple[Callable[..., Any], int]] = {
    "log": (np.log, 1),
    "log10": (np.log10, 1),
    "log2": (np.log2, 1),
    "log1p": (np.log1p, 1),
    "exp": (np.exp, 1),
    "sqrt": (np.sqrt, 1),
    "abs": (np.abs, 1),
    "tanh": (np.tanh, 1),
    "minimum": (np.minimum, 2),
    "maximum": (np.maximum, 2),
}

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.Pow: np.power,
    ast.Mod: np.mod,
}
_UNOPS: dict[type, Callable[[Any], Any]] = {ast.UAdd: np.positive, ast.USub: np.negative}

_BAD_OPERATORS = {
    ast.FloorDiv: "'//'", ast.MatMult: "'@'", ast.BitXor: "'^' (use ** for powers)", ast.BitAnd: "'&'",
    ast.BitOr: "'|'", ast.LShift: "'<<'", ast.RShift: "'>>'", ast.Not: "'not'", ast.Invert: "'~'",
}

_SYNTAX_NAMES = {
    ast.Attribute: "attribute access", ast.Subscript: "subscript", ast.Lambda: "lambda",
    ast.ListComp: "comprehension", ast.SetComp: "comprehension", ast.DictComp: "comprehension",
    ast.GeneratorExp: "comprehension", ast.Compare: "comparison", ast.BoolOp: "boolean operator",
    ast.IfExp: "conditional expression", ast.List: "list", ast.Tuple: "tuple", ast.Set: "set",
    ast.Dict: "dict", ast.Starred: "starred expression", ast.NamedExpr: "assignment expression",
    ast.JoinedStr: "f-string", ast.FormattedValue: "f-string", ast.Await: "await", ast.Yield: "yield",
    ast.YieldFrom: "yield", ast.Slice: "slice",
}


def _describe(node: ast.AST) -> str:
    for cls, name in _SYNTAX_NAMES.items():
        if isinstance(node, cls):
            return name
    return type(node).__name__.lower()


class TargetEquation:
    """A validated target equation; :meth:`evaluate` maps metric columns to one target column."""

    __slots__ = ("text", "metrics", "_tree")

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise AutobuildError(f"target equation must be a string, got {type(text).__name__}")
        text = text.strip()
        self.text: str = text
        if not text:
            raise self._error("empty equation")
        if len(text) > MAX_LENGTH:
            raise self._error(f"longer than {MAX_LENGTH} characters")
        if "\n" in text or "\r" in text:
            raise self._error("must be one line")
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError:
            raise self._error("invalid syntax") from None
        except (RecursionError, MemoryError, ValueError):
            raise self._error("too complex or invalid") from None
        names: set[str] = set()
        try:
            self._check(tree.body, names, 0)
        except RecursionError:
            raise self._error("too deeply nested") from None
        if not names:
            raise self._error("uses no metric column")
        self._tree: ast.expr = tree.body
        self.metrics: tuple[str, ...] = tuple(sorted(names))

    # ------------------------------------------------------------------ validation
    def _error(self, msg: str) -> AutobuildError:
        return AutobuildError(f"target equation {self._shown()}: {msg}")

    def _shown(self) -> str:
        t = self.text
        return repr(t) if len(t) <= 80 else repr(t[:60]) + f"... ({len(t):,} characters)"

    def _check(self, node: ast.AST, names: set[str], depth: int) -> None:
        if depth > 100:
            raise self._error("too deeply nested")
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                kind = "string" if isinstance(v, (str, bytes)) else type(v).__name__
                raise self._error(f"unsupported constant {kind} {v!r}"[:200])
            try:
                fv = float(v)
            except OverflowError:
                raise self._error("number too large") from None
            if not math.isfinite(fv):
                raise self._error("number too large")
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNOPS:
                raise self._error(f"unsupported operator {_BAD_OPERATORS.get(type(node.op), type(node.op).__name__)}")
            self._check(node.operand, names, depth + 1)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise self._error(f"unsupported operator {_BAD_OPERATORS.get(type(node.op), type(node.op).__name__)}")
            self._check(node.left, names, depth + 1)
            self._check(node.right, names, depth + 1)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise self._error(f"unsupported syntax: {_describe(node.func)}")
            name = node.func.id
            if name not in FUNCTIONS:
                raise self._error(f"unknown function {name!r} (allowed: {', '.join(FUNCTIONS)})")
            if node.keywords:
                raise self._error(f"unsupported syntax: keyword argument in call of {name!r}")
            for a in node.args:
                if isinstance(a, ast.Starred):
                    raise self._error("unsupported syntax: starred expression")
            nargs = FUNCTIONS[name][1]
            if len(node.args) != nargs:
                plural = "" if nargs == 1 else "s"
                raise self._error(f"function {name!r} takes {nargs} argument{plural}, got {len(node.args)}")
            for a in node.args:
                self._check(a, names, depth + 1)
        else:
            raise self._error(f"unsupported syntax: {_describe(node)}")

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, metrics: Mapping[str, Any]) -> np.ndarray:
        """Evaluate on metric columns (1-d arrays of one length); returns ``float64[n]``.

        Unknown metrics, columns of different lengths and NaN/inf results are errors."""
        for name in self.metrics:
            if name not in metrics:
                avail = ", ".join(sorted(metrics)) or "none"
                raise AutobuildError(f"unknown metric {name!r} in target equation {self._shown()} (available: {avail})")
        cols: dict[str, np.ndarray] = {}
        n: int | None = None
        for name in self.metrics:
            try:
                col = np.asarray(metrics[name], dtype=np.float64)
            except (TypeError, ValueError):
                raise AutobuildError(f"metric {name!r} is not numeric") from None
            if col.ndim != 1:
                raise AutobuildError(f"metric {name!r} must be a 1-d column, got shape {col.shape}")
            if n is not None and len(col) != n:
                raise AutobuildError(f"metric columns of target equation {self._shown()} have different lengths")
            n = len(col)
            cols[name] = col
        assert n is not None  # at least one metric (checked at parse time)
        with np.errstate(all="ignore"):
            out = np.broadcast_to(np.asarray(self._eval(self._tree, cols), dtype=np.float64), (n,)).copy()
        bad = np.flatnonzero(~np.isfinite(out))
        if len(bad):
            i = int(bad[0])
            raise AutobuildError(f"target equation {self._shown()} gives {_fmt_bad(out[i])} at row {i + 1}")
        return out

    def _eval(self, node: ast.AST, cols: Mapping[str, np.ndarray]) -> Any:
        if isinstance(node, ast.Constant):
            return np.float64(node.value)
        if isinstance(node, ast.Name):
            return cols[node.id]
        if isinstance(node, ast.UnaryOp):
            return _UNOPS[type(node.op)](self._eval(node.operand, cols))
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](self._eval(node.left, cols), self._eval(node.right, cols))
        if isinstance(node, ast.Call):
            fn = FUNCTIONS[node.func.id][0]  # type: ignore[attr-defined]
            return fn(*(self._eval(a, cols) for a in node.args))
        raise AssertionError(f"unvalidated node {type(node).__name__}")  # pragma: no cover

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return {"equation": self.text, "metrics": list(self.metrics)}

    @classmethod
    def from_dict(cls, d: Any) -> TargetEquation:
        """Inverse of :meth:`to_dict`; the stored metric list must match the equation."""
        if not isinstance(d, Mapping) or not isinstance(d.get("equation"), str):
            raise AutobuildError("invalid target record: expected {'equation': str, 'metrics': [...]}")
        eq = cls(d["equation"])
        if "metrics" in d and d["metrics"] != list(eq.metrics):
            raise AutobuildError(
                f"target equation {eq.text!r}: stored metrics {d['metrics']!r} do not match the equation's {list(eq.metrics)!r}"
            )
        return eq

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"TargetEquation({self.text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TargetEquation):
            return NotImplemented
        return ast.dump(self._tree) == ast.dump(other._tree)

    def __hash__(self) -> int:
        return hash(ast.dump(self._tree))


def _fmt_bad(v: float) -> str:
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
