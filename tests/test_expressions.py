"""The expression language: grammar, canonical unparse, evaluation, and rejection of anything else."""
from __future__ import annotations

import re

import pytest

from reverie.errors import ReverieError
from reverie.expressions import (MAX_DEPTH, MAX_LENGTH, Binary, Call, Name, Number, String, Unary,
                                 evaluate, parse, quote_name, unparse)


def fails(text: str) -> str:
    """The message parse() raises for ``text``."""
    with pytest.raises(ReverieError) as info:
        parse(text)
    return str(info.value)


def test_dotted_layer_names_are_single_names():
    for name in ["blocks.10", "features.3.conv", "layer4.1.bn2", "_blocks.3", "fc"]:
        assert parse(name) == Name(name)
    assert parse("channel(blocks.10, 7)") == Call("channel", (Name("blocks.10"), Number(7)))


def test_numbers_keep_int_and_float():
    assert parse("7") == Number(7) and type(parse("7").value) is int
    assert type(parse("7.").value) is float
    assert parse("1e-3") == Number(0.001)
    assert parse(".5") == Number(0.5)
    assert parse("2.5E2") == Number(250.0)
    assert parse("12345678901234567890") == Number(12345678901234567890)
    assert "number out of range '1e999' at position 4" in fails("1 + 1e999")
    assert "number out of range" in fails("9" * 5000)


def test_precedence_mul_over_sub():
    assert parse("channel(b, 7) - 0.5*channel(b, 12)") == Binary(
        "-", Call("channel", (Name("b"), Number(7))),
        Binary("*", Number(0.5), Call("channel", (Name("b"), Number(12)))))


def test_same_level_operators_associate_left():
    assert parse("a - b - c") == Binary("-", Binary("-", Name("a"), Name("b")), Name("c"))
    assert parse("a / b * c") == Binary("*", Binary("/", Name("a"), Name("b")), Name("c"))
    assert parse("a - (b - c)") == Binary("-", Name("a"), Binary("-", Name("b"), Name("c")))


def test_blend_has_lowest_precedence():
    assert parse("a + b | c * d") == Binary(
        "|", Binary("+", Name("a"), Name("b")), Binary("*", Name("c"), Name("d")))


def test_unary_minus_binds_tighter_than_mul():
    assert parse("-neuron(blocks.8, 3, x=4, y=5)") == Unary(
        "-", Call("neuron", (Name("blocks.8"), Number(3)), (("x", Number(4)), ("y", Number(5)))))
    assert parse("-a * b") == Binary("*", Unary("-", Name("a")), Name("b"))
    assert parse("--a") == Unary("-", Unary("-", Name("a")))


def test_nested_keyword_calls():
    assert parse("roll(axis=1, shift=sin(amplitude=6, period=80),)") == Call(
        "roll", (), (("axis", Number(1)),
                     ("shift", Call("sin", (), (("amplitude", Number(6)), ("period", Number(80)))))))
    assert parse("zoom(0.02)") == Call("zoom", (Number(0.02),))
    assert parse("now()") == Call("now")


def test_quoted_names():
    assert parse('layer("features.3")') == Call("layer", (String("features.3"),))
    assert parse("'odd/layer name'") == String("odd/layer name")
    assert parse(r'"say \"hi\" \\ \'x\'"') == String("say \"hi\" \\ 'x'")


def test_positions_are_recorded_but_not_compared():
    tree = parse("f(a) - 2 * -b")
    assert (tree.pos, tree.left.pos, tree.left.args[0].pos) == (5, 0, 2)
    assert (tree.right.pos, tree.right.left.pos, tree.right.right.pos) == (9, 7, 11)
    assert Name("a", pos=3) == Name("a", pos=9) and hash(Name("a", pos=3)) == hash(Name("a"))


ROUND_TRIP = [
    "channel(blocks.10, 7) - 0.5*channel(blocks.10, 12)",
    'layer(blocks.6) + 0.5 * layer("features.3")',
    "-neuron(blocks.8, 3, x=4, y=5)",
    "channel(blocks.5, 3) | channel(blocks.5, 9)",
    "roll(axis=1, shift=sin(amplitude=6, period=80))",
    "a - (b - c) - d / (e * f) | (g | h)",
    "-(a + b) * --c",
    "(a | b) * c",
    "0.30000000000000004 + 1e-300 + 12345678901234567890",
    r'"quote \" and \\ back" + odd',
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_unparse_round_trips(text):
    tree = parse(text)
    assert parse(unparse(tree)) == tree
    assert unparse(parse(unparse(tree))) == unparse(tree)  # canonical: a fixed point


def test_unparse_uses_minimal_parentheses():
    assert unparse(parse("(a*b) - (c)")) == "a * b - c"
    assert unparse(parse("a - (b - c)")) == "a - (b - c)"
    assert unparse(parse("(a - b) - c")) == "a - b - c"
    assert unparse(parse("-(a * b)")) == "-(a * b)"
    assert unparse(parse("(a | b) + c")) == "(a | b) + c"
    assert unparse(parse("f(x= 1 ,  y=(2))")) == "f(x=1, y=2)"
    assert unparse(parse("1e-3")) == "0.001"


def test_unparse_quotes_names_only_when_needed():
    assert unparse(Name("layer4.1.bn2")) == "layer4.1.bn2"
    assert unparse(Name("odd layer")) == quote_name("odd layer") == '"odd layer"'
    assert quote_name("_blocks.3") == "_blocks.3" and quote_name("3.a") == '"3.a"'
    assert unparse(String("features.3")) == '"features.3"'
    assert unparse(String('a"b\\c')) == r'"a\"b\\c"'


def test_rejects_power_operator_with_position():
    assert fails("channel(a, 1) ** 2") == "unexpected '**' at position 14 in \"channel(a, 1) ** 2\""


@pytest.mark.parametrize("text, message", [
    ("a[0]", "unexpected '[' at position 1"),
    ("a; b", "unexpected ';' at position 1"),
    ("lambda x: x", "unexpected ':' at position 8"),  # characters are checked before grammar
    ("lambda x", "unexpected 'x' at position 7"),
    ("a @ b", "unexpected '@' at position 2"),
    ("f(x)(y)", "unexpected '(' at position 4"),
    ("a = 1", "unexpected '=' at position 2"),
    ("a.", "unexpected '.' at position 1"),
    ("1 2", "unexpected '2' at position 2"),
    ("a +", "unexpected end of expression at position 3"),
    ("f(,)", "unexpected ',' at position 2"),
    ("f(a b)", "expected ',' or ')' (found 'b') at position 4"),
    ("(a + b", "expected ')' (found end of expression) at position 6"),
    ('layer("abc', "unterminated string at position 6"),
    (r'"a\n"', r"bad escape '\n'"),
    ("f(a.b=1)", "keyword 'a.b' must be a plain name at position 2"),
    ("f(x=1, x=2)", "repeated keyword 'x' at position 7"),
    ("f(x=1, 2)", "positional argument after keyword argument at position 7"),
])
def test_rejects_text_outside_the_grammar_with_position(text, message):
    assert message in fails(text)


def test_errors_are_one_line_and_show_where():
    assert fails("a +\n[") == 'unexpected \'[\' at position 4 in "a + ["'
    message = fails("a + " + "b + " * 100 + "[")  # long text: show a window around the mistake
    assert message.startswith("unexpected '[' at position 404 in \"...") and message.endswith('b + ["')


def test_empty_and_overlong_input():
    assert fails("") == fails("  \n ") == "empty expression"
    assert "too long" in fails("a" * (MAX_LENGTH + 1))
    assert parse("a" * MAX_LENGTH) == Name("a" * MAX_LENGTH)


def test_depth_limit():
    ok = MAX_DEPTH - 1
    assert parse("(" * ok + "a" + ")" * ok) == Name("a")
    for deep in ["(" * 4000 + "a" + ")" * 4000, "-" * 9000 + "a", " + ".join(["a"] * (MAX_DEPTH + 1))]:
        assert "nested more than 64 deep" in fails(deep)


class Sym:
    """Records operator dispatch as text, to check evaluate() uses Python's operators."""

    def __init__(self, text):
        self.text = text

    def _apply(self, op, other):
        return Sym(f"({self.text}{op}{getattr(other, 'text', other)})")

    def __add__(self, other):
        return self._apply("+", other)

    def __sub__(self, other):
        return self._apply("-", other)

    def __mul__(self, other):
        return self._apply("*", other)

    def __truediv__(self, other):
        return self._apply("/", other)

    def __or__(self, other):
        return self._apply("|", other)

    def __rmul__(self, other):
        return Sym(f"({other}*{self.text})")

    def __neg__(self):
        return Sym(f"(-{self.text})")


def test_evaluate_applies_operators():
    functions = {"s": Sym}
    result = evaluate(parse("-s(a) + s(b) * 0.5 - 2 * s(c) / s(d) | s(e)"), functions)
    assert result.text == "((((-a)+(b*0.5))-((2*c)/d))|e)"
    assert evaluate(parse("1 - 2 - 3 + 8 / 4"), {}) == -2.0
    assert evaluate(parse("6 | 1"), {}) == 7


def test_evaluate_bare_names_become_strings_unless_bound():
    layer = lambda name, weight=1: (name, weight)  # noqa: E731
    assert evaluate(parse("layer(blocks.6)"), {"layer": layer}) == ("blocks.6", 1)
    assert evaluate(parse("layer('odd name', weight=t)"), {"layer": layer}, {"t": 0.25}) == ("odd name", 0.25)
    assert evaluate(parse("t"), {}) == "t"


def test_evaluate_nested_keyword_calls():
    functions = {"roll": lambda axis, shift: ("roll", axis, shift),
                 "sin": lambda amplitude, period: amplitude / period}
    assert evaluate(parse("roll(axis=1, shift=sin(amplitude=6, period=80))"), functions) == ("roll", 1, 0.075)


def test_unknown_function_names_nearest():
    with pytest.raises(ReverieError, match=r"unknown function 'chanel' \(nearest: channel\) at position 4"):
        evaluate(parse("2 * chanel(a, 1)"), {"channel": print, "layer": print})


def test_python_builtins_are_not_reachable():
    with pytest.raises(ReverieError, match="unknown function '__import__'"):
        evaluate(parse("__import__('os')"), {"layer": print})


def test_bad_arguments_name_the_function():
    def channel(layer, unit):
        return layer, unit
    with pytest.raises(ReverieError, match=re.escape(
            "bad arguments to channel(...) at position 0: missing a required argument: 'unit'")):
        evaluate(parse("channel(blocks.5)"), {"channel": channel})
    with pytest.raises(ReverieError, match="unexpected keyword argument 'z'"):
        evaluate(parse("channel(a, 1, z=2)"), {"channel": channel})


def test_type_errors_inside_functions_are_not_blamed_on_the_user():
    def broken(x):
        raise TypeError("bug inside")
    with pytest.raises(TypeError, match="bug inside"):
        evaluate(parse("1 + broken(2)"), {"broken": broken})


def test_operator_errors_are_reported_with_position():
    with pytest.raises(ReverieError, match=r"'-' at position 2 combines numbers and objectives, not text \('a'\)"):
        evaluate(parse("a - 1"), {})
    with pytest.raises(ReverieError, match=r"'\*' at position 1 combines numbers"):  # never text repetition
        evaluate(parse("a*200000000"), {})
    with pytest.raises(ReverieError, match=r"'\*' at position 5 gives inf, not a finite number"):
        evaluate(parse("1e300*1e300"), {})
    with pytest.raises(ReverieError, match=r"cannot apply '/' at position 6: division by zero"):
        evaluate(parse("1 + 1 / 0"), {})
