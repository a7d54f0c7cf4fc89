"""Keyframed values and keyframed dream options: interpolation, clamping, text round trips, errors."""
from __future__ import annotations

import pytest

from reverie.errors import ReverieError
from reverie.keyframes import Keyframes, keys, option_keyframes, value_at


def test_linear_keyframes_interpolate_between_keys():
    ramp = keys("0:0, 10:1, 20:-1")
    assert [value_at(ramp, frame) for frame in (0, 5, 10, 15, 20)] == pytest.approx([0, 0.5, 1, 0, -1])


def test_step_keyframes_hold_until_the_next_key():
    held = keys("0:1, 10:2, 20:3", mode="step")
    assert [value_at(held, frame) for frame in (0, 9, 10, 19, 20)] == [1, 1, 2, 2, 3]


def test_keyframes_clamp_before_the_first_and_after_the_last_key():
    ramp = keys("10:0.5, 20:1.5")
    assert value_at(ramp, 0) == 0.5 and value_at(ramp, 10_000) == 1.5
    assert value_at(keys("5:7"), 0) == 7 and value_at(keys("5:7"), 99) == 7


def test_plain_numbers_are_their_own_value():
    assert value_at(0.25, 0) == 0.25 and value_at(3, 1000) == 3.0


def test_keys_are_sorted_and_written_back():
    unsorted = keys("100:0.05, 0:0.01")
    assert unsorted.points == ((0, 0.01), (100, 0.05))
    assert unsorted.expression() == 'keys("0:0.01, 100:0.05")'
    assert keys("0:1, 10:-2.5e-06", mode="step").expression() == 'keys("0:1, 10:-2.5e-06", mode="step")'
    assert keys(unsorted.text()) == unsorted


@pytest.mark.parametrize("text, message", [
    ("", "at least one key"),
    ("0:1, 0:2", "repeat frame 0"),
    ("0:1 10:2", "expected FRAME:VALUE .* at position 0"),
    ("0:1, ten:2", "expected FRAME:VALUE .* at position 4"),
    ("0:1,", "after the last comma"),
    ("-5:1", "expected FRAME:VALUE"),
    ("0:1e999", "out of range"),
])
def test_bad_keys_text_is_a_one_line_error_with_position(text, message):
    with pytest.raises(ReverieError, match=message) as info:
        keys(text)
    assert "\n" not in str(info.value)


def test_unknown_mode_names_nearest():
    with pytest.raises(ReverieError, match=r"unknown keyframe mode 'stpe' \(nearest: step\)"):
        keys("0:1", mode="stpe")
    with pytest.raises(ReverieError, match="must be a finite number"):
        Keyframes(((0, "big"),))


def test_option_keyframes_step_names_and_whole_numbers_and_glide_floats():
    options = option_keyframes(["0: layer=blocks.10, step_size=0.02, steps=4",
                                "200: layer=blocks.12, steps=8, step_size=0.04, guide=\"odd/layer\""])
    assert options(0) == {"layer": "blocks.10", "step_size": 0.02, "steps": 4}
    middle = options(150)
    assert middle["layer"] == "blocks.10" and middle["steps"] == 4
    assert middle["step_size"] == pytest.approx(0.035)
    assert "guide" not in middle  # not named before frame 200: the loop's own setting applies
    assert options(500) == {"layer": "blocks.12", "step_size": 0.04, "steps": 8, "guide": "odd/layer"}
    held = option_keyframes(["0: step_size=0.02", "100: step_size=0.04"], mode="step")
    assert held(99) == {"step_size": 0.02}


def test_option_keyframes_write_back_as_the_same_entries():
    entries = ["0: layer=blocks.10, jitter=true, scale=1.5", "50: layer=\"odd/layer\", octaves=3"]
    options = option_keyframes(entries)
    assert options.texts() == entries
    assert option_keyframes(options.texts()) == options
    glide = option_keyframes(["0: scale=1.0", "10: scale=2"])
    assert glide.texts() == ["0: scale=1.0", "10: scale=2"] and glide(5) == {"scale": 1.5}


@pytest.mark.parametrize("entries, message", [
    (["layer=blocks.10"], "expected FRAME: at position 0"),
    (["0: layer"], "expected NAME=VALUE at position 3"),
    (["0: layer=blocks.10 steps=8"], "expected ',' or the end at position 18"),
    (["0: steps=8, steps=9"], "option 'steps' given twice"),
    (["0: steps=8", "0: octaves=2"], "repeat frame 0"),
    (["0: steps="], "expected a value"),
    ("0: steps=8", "a list of entries"),
])
def test_bad_option_keyframes_are_one_line_errors(entries, message):
    with pytest.raises(ReverieError, match=message) as info:
        option_keyframes(entries)
    assert "\n" not in str(info.value)


def test_unknown_option_names_nearest_when_options_are_listed():
    with pytest.raises(ReverieError, match=r"unknown option 'stpes' \(nearest: steps"):
        option_keyframes(["0: stpes=8"], allowed={"steps", "layer", "step_size"})
