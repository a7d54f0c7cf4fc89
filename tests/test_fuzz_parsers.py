"""Fuzzing every parser a stranger's recipe reaches: whatever the text, the only exception that
escapes is ReverieError (a one-line message), never a crash, a hang or another exception type.

The text is drawn from the parsers' own alphabet (names, numbers past a float's range, quotes,
operators, brackets, control characters) so most examples get past the first token; the number
of examples is bounded so the suite stays fast (raise ``FUZZ_EXAMPLES`` for a long run).
"""
from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reverie.errors import ReverieError
from reverie.frame_transforms import parse_frame_transforms
from reverie.keyframes import keys, option_keyframes
from reverie.objectives import parse_blend, parse_objective
from reverie.tasks import read_recipe

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=os.environ.get("FUZZ_EXAMPLES") is None,
                suppress_health_check=[HealthCheck.too_slow])

TOKENS = ["layer", "channel", "neuron", "direction", "logit", "diversity", "zoom", "rotate", "roll", "blend",
          "keys", "sin", "blocks.6", "blocks.99", "x", "(", ")", ",", "=", "+", "-", "*", "/", "|", ":", ";",
          "'", '"', "\\", " ", "0", "7", "-1", "1e308", "1e309", "9" * 320, "0.5", "nan", "inf", ".", "e",
          "\x1b[2J", "\x00", "é", "\n", "frame", "steps", "step_size", "layer=", "100:", "axis=1", "amount="]
text = st.lists(st.sampled_from(TOKENS), max_size=24).map("".join) | st.text(max_size=60)


def only_reverie_errors(parse, value) -> None:
    try:
        parse(value)
    except ReverieError as error:
        assert "\n" not in str(error).strip() or len(str(error)) < 2000
    except RecursionError:
        pytest.fail(f"{parse.__name__} recursed without bound on {value!r}")


@FUZZ
@given(text)
def test_the_objective_parser_raises_only_reverie_errors(value):
    only_reverie_errors(parse_objective, value)
    only_reverie_errors(parse_blend, value)


@FUZZ
@given(st.lists(text, min_size=1, max_size=3))
def test_the_frame_transform_parser_raises_only_reverie_errors(values):
    only_reverie_errors(parse_frame_transforms, values)


@FUZZ
@given(st.lists(text, min_size=1, max_size=3), text)
def test_the_keyframe_parsers_raise_only_reverie_errors(entries, value):
    only_reverie_errors(option_keyframes, entries)
    only_reverie_errors(keys, value)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
    | st.sampled_from(["noise", "sample:chelsea", "../x.png", "/etc/passwd", "dream", "animate", "layer(blocks.6)"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12)
FIELDS = st.sampled_from(["kind", "source", "size", "objective", "settings", "mask", "model", "seed", "steps",
                          "transforms", "keyframes", "frames", "fps", "batch", "layer", "channels", "version",
                          "text_weight", "stopped_at", "weights", "content", "style", "mesh"])


@FUZZ
@given(st.dictionaries(FIELDS, JSON_VALUES, max_size=5))
def test_the_recipe_reader_raises_only_reverie_errors(data):
    only_reverie_errors(read_recipe, json.dumps(data).encode())


@FUZZ
@given(st.binary(max_size=200))
def test_the_recipe_reader_takes_any_bytes(data):
    only_reverie_errors(read_recipe, b"{" + data)
