"""A tiny, safe expression language for objectives and frame transforms: parse, write, evaluate.

Recipes arrive inside strangers' image files, so text is never handed to ``eval``: a small
tokenizer and recursive-descent parser build a tree, and :func:`evaluate` can only call the
functions its caller passes in.

This module is also the one writer of that text: :func:`format_number`, :func:`quote_name` and
:func:`quote_string` are the only number formatter and quoters, and :class:`Expressible` writes a
frozen dataclass as a call. Objectives, frame transforms and keyframes all write through them, so
what one writes the parser reads back as an equal value.

Grammar (``|`` binds loosest)::

    expr    := blend
    blend   := sum ('|' sum)*
    sum     := term (('+' | '-') term)*
    term    := unary (('*' | '/') unary)*
    unary   := '-' unary | primary
    primary := NUMBER | STRING | call | NAME | '(' expr ')'
    call    := NAME '(' [arg (',' arg)* [',']] ')'
    arg     := [IDENT '='] expr

A NAME may be dotted, with parts that start with a digit (``blocks.10``, ``layer4.1.bn2``);
layer names with other characters are written as strings (``"odd/layer"``).

>>> unparse(parse("channel(blocks.10, 7) - 0.5*channel(blocks.10, 12)"))
'channel(blocks.10, 7) - 0.5 * channel(blocks.10, 12)'
"""
from __future__ import annotations

import inspect
import math
import operator
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import ClassVar, NamedTuple, Union

from reverie.errors import ReverieError, unknown_name_message
from reverie.fields import escaped

MAX_LENGTH = 10_000
MAX_DEPTH = 64  # well below Python's recursion limit, far above any sensible recipe


def _pos():
    """Where a node starts in the text: reported in errors, ignored by equality."""
    return field(default=0, compare=False, repr=False)


@dataclass(frozen=True)
class Number:
    value: float | int
    pos: int = _pos()


@dataclass(frozen=True)
class String:
    value: str
    pos: int = _pos()


@dataclass(frozen=True)
class Name:
    value: str
    pos: int = _pos()


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...] = ()
    kwargs: tuple[tuple[str, Node], ...] = ()
    pos: int = _pos()


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node
    pos: int = _pos()


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node
    pos: int = _pos()


Node = Union[Number, String, Name, Call, Unary, Binary]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*")
# [0-9] rather than \d: \d also matches non-ASCII digits that int() would quietly accept.
_TOKEN = re.compile(r"(?P<space>\s+)|(?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
                    r"|(?P<name>" + _NAME.pattern + r")|(?P<op>[-+*/|(),=])")
_LEVELS = (("|",), ("+", "-"), ("*", "/"))  # binary operators, loosest first
_PRECEDENCE = {op: level for level, ops in enumerate(_LEVELS) for op in ops}
_UNARY_LEVEL, _ATOM_LEVEL = len(_LEVELS), len(_LEVELS) + 1
_BINARY_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
               "|": operator.or_}


class _Token(NamedTuple):
    kind: str  # "num", "str", "name", "op" or "end"
    text: str
    pos: int
    value: object = None


def _error(text: str, message: str, pos: int) -> ReverieError:
    """One-line error with the position and (a window of) the text, whitespace flattened."""
    flat = re.sub(r"\s", " ", text)
    start = max(0, min(pos - 40, len(flat) - 80))
    shown = ("..." if start else "") + flat[start:start + 80] + ("..." if start + 80 < len(flat) else "")
    return ReverieError(f'{message} at position {pos} in "{shown}"')


def _tokenize(text: str) -> list[_Token]:
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos] in "'\"":
            value, end = read_string(text, pos)
            tokens.append(_Token("str", text[pos:end], pos, value))
            pos = end
            continue
        match = _TOKEN.match(text, pos)
        # '**' gets its own message: reading it as '*' '*' would blame the second star.
        if text.startswith("**", pos) or not match:
            bad = "**" if text.startswith("**", pos) else text[pos]
            raise _error(text, f"unexpected {bad!r}", pos)
        kind, word = match.lastgroup, match.group()
        if kind == "num":
            tokens.append(_Token(kind, word, pos, _number(text, word, pos)))
        elif kind != "space":
            tokens.append(_Token(kind, word, pos, word))
        pos = match.end()
    return tokens + [_Token("end", "", len(text))]


def _number(text: str, word: str, pos: int) -> float | int:
    # Refuse what would not survive unparse (inf) or what int() refuses (over 4300 digits).
    try:
        value = float(word) if re.search("[.eE]", word) else int(word)
        finite = math.isfinite(value)  # OverflowError for an int past a float's range
    except (ValueError, OverflowError):
        value, finite = math.inf, False
    if not finite:
        raise _error(text, f"number out of range {word[:20]!r}", pos)
    return value


def read_string(text: str, start: int) -> tuple[str, int]:
    r"""The contents of the quoted string at ``start`` in ``text``, and the position just after it.

    Either quote may open a string; inside it only ``\\``, ``\'`` and ``\"`` are escapes, the
    ones :func:`quote_string` writes.

    >>> read_string(r'x = "a\"b" + 1', 4)
    ('a"b', 10)
    """
    quote, chars, pos = text[start], [], start + 1
    while pos < len(text) and text[pos] != quote:
        if text[pos] == "\\" and pos + 1 < len(text):
            if text[pos + 1] not in "\\'\"":
                raise _error(text, f"bad escape '\\{text[pos + 1]}' (only \\\\, \\' and \\\")", pos)
            pos += 1
        chars.append(text[pos])
        pos += 1
    if pos >= len(text):
        raise _error(text, "unterminated string", start)
    return "".join(chars), pos + 1


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.tokens, self.i, self.depth = text, _tokenize(text), 0, 0

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def is_op(self, *ops: str) -> bool:
        return self.peek().kind == "op" and self.peek().text in ops

    def fail(self, expected: str | None = None) -> ReverieError:
        token = self.peek()
        found = repr(token.text) if token.kind != "end" else "end of expression"
        if expected is None:
            return _error(self.text, f"unexpected {found}", token.pos)
        return _error(self.text, f"expected {expected} (found {found})", token.pos)

    def binary(self, level: int = 0) -> Node:
        if level == len(_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.is_op(*_LEVELS[level]):
            token = self.take()
            left = Binary(token.text, left, self.binary(level + 1), pos=token.pos)
        return left

    def unary(self) -> Node:
        # Every '(' and '-' passes through here, so this one counter bounds parser recursion.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _error(self.text, f"expression nested more than {MAX_DEPTH} deep", self.peek().pos)
        try:
            if self.is_op("-"):
                token = self.take()
                return Unary("-", self.unary(), pos=token.pos)
            return self.primary()
        finally:
            self.depth -= 1

    def primary(self) -> Node:
        token = self.peek()
        if token.kind in ("num", "str"):
            self.take()
            return (Number if token.kind == "num" else String)(token.value, pos=token.pos)
        if token.kind == "name":
            self.take()
            return self.call(token) if self.is_op("(") else Name(token.text, pos=token.pos)
        if self.is_op("("):
            self.take()
            node = self.binary()
            if not self.is_op(")"):
                raise self.fail("')'")
            self.take()
            return node
        raise self.fail()

    def call(self, name: _Token) -> Call:
        self.take()  # '('
        args, kwargs = [], {}
        while not self.is_op(")"):
            if self.peek().kind == "name" and self.peek(1).text == "=" and self.peek(1).kind == "op":
                key = self.peek()
                if "." in key.text:
                    raise _error(self.text, f"keyword {key.text!r} must be a plain name", key.pos)
                if key.text in kwargs:
                    raise _error(self.text, f"repeated keyword {key.text!r}", key.pos)
                self.i += 2
                kwargs[key.text] = self.binary()
            elif kwargs:
                raise _error(self.text, "positional argument after keyword argument", self.peek().pos)
            else:
                args.append(self.binary())
            if not self.is_op(","):
                break
            self.take()
        if not self.is_op(")"):
            raise self.fail("',' or ')'")
        self.take()
        return Call(name.text, tuple(args), tuple(kwargs.items()), pos=name.pos)


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Call):
        return node.args + tuple(value for _, value in node.kwargs)
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    return ()


def parse(text: str) -> Node:
    """Parse expression text into a tree; any mistake raises ReverieError with its position.

    >>> parse("layer(blocks.6) + 0.5") == Binary("+", Call("layer", (Name("blocks.6"),)), Number(0.5))
    True
    """
    if len(text) > MAX_LENGTH:
        raise ReverieError(f"expression too long ({len(text)} characters; limit {MAX_LENGTH})")
    if not text.strip():
        raise ReverieError("empty expression")
    parser = _Parser(text)
    tree = parser.binary()
    if parser.peek().kind != "end":
        raise parser.fail()
    # Long operator chains build deep trees without deep parsing; bound them too, since
    # evaluate() and unparse() recurse over the tree.
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _error(text, f"expression nested more than {MAX_DEPTH} deep", node.pos)
        stack.extend((child, depth + 1) for child in _children(node))
    return tree


def _level(node: Node) -> int:
    if isinstance(node, Binary):
        return _PRECEDENCE[node.op]
    return _UNARY_LEVEL if isinstance(node, Unary) else _ATOM_LEVEL


# --- writing: the one number formatter, the quoters, and the dataclass writer ------------------------

def format_number(number: float | int, *, keep_point: bool = False, float32: bool = False) -> str:
    """The shortest text that reads back as exactly ``number``: ``0.5``, ``2``, ``0.123456789``, ``1e-05``.

    Whole numbers (ints, and floats such as ``2.0``) are written without a point: the grammar's ``2``
    and ``2.0`` are equal numbers (``-0.0`` keeps its point, and so its sign). ``keep_point`` keeps
    ``2.0`` for readers to whom a float and an int differ (keyframed options glide only between
    floats; :func:`unparse` writes the tree as it is). ``float32`` writes the shortest text that
    reads back as the same float32 (9 digits always do), for values held in float32. Infinities
    and NaN have no text: ReverieError.

    >>> format_number(2.0), format_number(2.0, keep_point=True), format_number(1 / 3)
    ('2', '2.0', '0.3333333333333333')
    >>> format_number(0.10000000149011612, float32=True)
    '0.1'
    """
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        raise ReverieError(f"expected a number to write, got {number!r}")
    if isinstance(number, int):
        return str(number)
    if not math.isfinite(number):
        raise ReverieError(f"{number!r} cannot be written as expression text: numbers must be finite")
    text = repr(number)  # repr round-trips a float exactly
    if float32:
        single = _float32(number)
        text = next(candidate for candidate in (f"{number:.{digits}g}" for digits in range(1, 10))
                    if _float32(float(candidate)) == single)
    negative_zero = number == 0 and math.copysign(1.0, number) < 0  # "-0" would read back as the int 0
    if keep_point or negative_zero:
        return text if re.search("[.eE]", text) else text + ".0"
    return text[:-2] if text.endswith(".0") else text


def _float32(number: float) -> float:
    """``number`` rounded to float32 (and back to a Python float)."""
    return struct.unpack("f", struct.pack("f", number))[0]


def quote_string(value: str) -> str:
    """``value`` as a double-quoted string, ``\\`` and ``"`` escaped; :func:`read_string` reads it back.

    >>> print(quote_string('say "hi"'))
    "say \\"hi\\""
    """
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_name(name: str) -> str:
    """A layer name as expression text: bare when it is a valid name, else a quoted string.

    >>> quote_name("blocks.10"), quote_name("odd/layer")
    ('blocks.10', '"odd/layer"')
    """
    return name if _NAME.fullmatch(name) else quote_string(name)


def value_text(value: object) -> str:
    """A value as expression text: ``True``/``False``, a number, a quoted string, or ``value.expression()``.

    Anything else (a tensor, a Python function) has no text: ReverieError.

    >>> value_text(True), value_text(0.25), value_text("step")
    ('True', '0.25', '"step"')
    """
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        return format_number(value)
    if isinstance(value, str):
        return quote_string(value)
    if hasattr(value, "expression"):
        return value.expression()
    raise ReverieError(f"{_short(value)} cannot be written as expression text: use a number, a string or a "
                       "value with a text form, such as keys(...), linear(...) or sin(...)")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Expressible:
    """Writes a frozen dataclass as expression text, ``NAME(required, keyword=value, ...)``.

    Subclasses set ``NAME`` (the name in their FUNCTIONS table). Fields without a default are written
    positionally (as keywords when ``KEYWORDS`` is set); others as keywords when they differ from
    their default or are listed in ``SHOWN`` (an ``axis`` reads better spelled out). Fields listed in
    ``NAMES`` hold layer names and are written bare (``blocks.10``) where the grammar allows.

    ``textual`` says whether the value has a text form; when it has none (a parameter is a Python
    function, say), ``expression()`` raises ReverieError and ``str()`` falls back to ``repr()``.
    """

    NAME: ClassVar[str] = ""
    KEYWORDS: ClassVar[bool] = False
    SHOWN: ClassVar[tuple[str, ...]] = ()
    NAMES: ClassVar[tuple[str, ...]] = ()

    def expression(self) -> str:
        """This value as expression text that evaluates back to an equal value."""
        return self.call_text()

    def call_text(self) -> str:
        """``NAME(...)`` written from the dataclass fields (see the class docstring)."""
        if not is_dataclass(self):
            raise NotImplementedError(f"{type(self).__name__} is not a dataclass: define its call_text()")
        parts = []
        for item in fields(self):
            value = getattr(self, item.name)
            required = item.default is MISSING
            if not (required or item.name in self.SHOWN or not _same(value, item.default)):
                continue  # a default, left out
            text = quote_name(value) if item.name in self.NAMES else value_text(value)
            parts.append(text if required and not self.KEYWORDS else f"{item.name}={text}")
        return f"{self.NAME}({', '.join(parts)})"

    @property
    def textual(self) -> bool:
        """Whether ``expression()`` can write this value (every parameter has a text form)."""
        try:
            self.expression()
        except (ReverieError, NotImplementedError):
            return False
        return True

    def __str__(self) -> str:
        try:
            return self.expression()
        except (ReverieError, NotImplementedError):  # no text form; say what it is instead
            return repr(self)


def _same(value: object, default: object) -> bool:
    # 1 == True in Python, but a flag and a number are never "the same" as each other's default.
    return isinstance(value, bool) == isinstance(default, bool) and value == default


def unparse(node: Node) -> str:
    """Canonical text for a tree, with only the parentheses precedence needs.

    Parsing the result gives an equal tree. A Name whose value is not a valid name (built in
    code, say ``Name("odd layer")``) is written quoted, so it comes back as an equal String.

    >>> unparse(parse("(a*2) - (b - c) | -(d)"))
    'a * 2 - (b - c) | -d'
    """
    if isinstance(node, Number):
        return format_number(node.value, keep_point=True)  # 2.0 stays a float: the tree is written as it is
    if isinstance(node, String):
        return quote_string(node.value)
    if isinstance(node, Name):
        return quote_name(node.value)
    if isinstance(node, Call):
        parts = [unparse(arg) for arg in node.args]
        parts += [f"{key}={unparse(value)}" for key, value in node.kwargs]
        return f"{node.name}({', '.join(parts)})"
    if isinstance(node, Unary):
        inner = unparse(node.operand)
        return node.op + (f"({inner})" if _level(node.operand) < _UNARY_LEVEL else inner)
    level = _level(node)
    left, right = unparse(node.left), unparse(node.right)
    if _level(node.left) < level:
        left = f"({left})"
    if _level(node.right) <= level:  # operators are left-associative: a - (b - c) keeps its parens
        right = f"({right})"
    return f"{left} {node.op} {right}"


def evaluate(node: Node, functions: Mapping[str, Callable], names: Mapping[str, object] | None = None):
    """Fold a tree: calls go to ``functions``, operators to Python's, bare names to strings.

    A Name evaluates to ``names[value]`` when bound, else to its text, so layer names stay strings.

    >>> evaluate(parse("scale(2, by=3) + x"), {"scale": lambda v, by: v * by}, {"x": 1})
    7
    """
    names = names or {}
    if isinstance(node, (Number, String)):
        return node.value
    if isinstance(node, Name):
        return names[node.value] if node.value in names else node.value
    if isinstance(node, Call):
        if node.name not in functions:
            unknown = unknown_name_message("function", node.name, functions)
            raise ReverieError(f"{unknown} at position {node.pos}")
        function = functions[node.name]
        args = [evaluate(arg, functions, names) for arg in node.args]
        kwargs = {key: evaluate(value, functions, names) for key, value in node.kwargs}
        # Check the arguments against the signature rather than catching TypeError from the
        # call, so a TypeError raised inside the function is not mistaken for a user mistake.
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):  # some builtins have no signature; just call them
            signature = None
        if signature is not None:
            try:
                signature.bind(*args, **kwargs)
            except TypeError as exc:
                message = f"bad arguments to {node.name}(...) at position {node.pos}: {exc}"
                raise ReverieError(message) from None
        return function(*args, **kwargs)
    operands = [evaluate(child, functions, names) for child in _children(node)]
    text = next((operand for operand in operands if isinstance(operand, str)), None)
    if text is not None:  # Python would repeat or join text: 'a' * 200000000 is a 200 MB name
        raise ReverieError(f"'{node.op}' at position {node.pos} combines numbers and objectives, not text "
                           f"('{escaped(text, 40)}')")
    try:
        value = operator.neg(*operands) if isinstance(node, Unary) else _BINARY_OPS[node.op](*operands)
    except (TypeError, ZeroDivisionError, OverflowError) as exc:
        raise ReverieError(f"cannot apply '{node.op}' at position {node.pos}: {str(exc)[:120]}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ReverieError(f"'{node.op}' at position {node.pos} gives {value}, not a finite number")
    return value
