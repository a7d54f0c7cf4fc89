"""Keyframed values: numbers that change over an animation's frames, and keyframed dream options.

A :class:`Keyframes` value is a sorted list of ``(frame, value)`` pairs read back by
:func:`value_at`, linearly interpolated (``"linear"``, the default) or held until the next key
(``"step"``). Before the first key it is the first value; after the last key, the last value. It
is written ``keys("0:0.01, 100:0.05")`` in expression text, so a frame transform such as
``zoom(keys("0:0.01, 100:0.05"))`` can be stored in a recipe as plain text.

>>> zoom_amount = keys("0:0.01, 100:0.05")
>>> value_at(zoom_amount, 50), value_at(zoom_amount, 500), value_at(0.2, 7)
(0.03, 0.05, 0.2)
>>> keys("0:1, 10:2", mode="step").expression()
'keys("0:1, 10:2", mode="step")'

:func:`option_keyframes` does the same for the animation loop's dream options, which may be
names or whole numbers as well as floats (see its docstring for the format)::

    0: layer=blocks.10, step_size=0.02
    200: layer=blocks.12, steps=8, step_size=0.05

This module sits just above the leaves: it parses its own small formats, writes numbers, names and
strings through :mod:`reverie.expressions` (the one writer), and imports nothing else from Reverie.
"""
from __future__ import annotations

import bisect
import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from reverie.errors import ReverieError, unknown_name_message
from reverie.expressions import format_number, quote_name, quote_string, read_string
from reverie.fields import escaped

MODES = ("linear", "step")

# ASCII digits only ([0-9], not \d): int() and float() would quietly accept other scripts' digits.
_NUMBER = r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_KEY = re.compile(r"\s*(?P<frame>[0-9]+)\s*:\s*(?P<value>" + _NUMBER + r")\s*(?:,|$)")


def _check_mode(mode: object) -> str:
    if mode not in MODES:
        raise ReverieError(unknown_name_message("keyframe mode", str(mode), MODES))
    return mode


def _finite_number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ReverieError(f"{what} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Keyframes:
    """A number that follows keyframes: sorted ``(frame, value)`` pairs and how to go between them.

    ``mode`` is ``"linear"`` (interpolate between neighbouring keys) or ``"step"`` (hold each value
    until the next key). Pairs may be given in any order; they are stored sorted by frame.

    >>> Keyframes(((10, 2.0), (0, 1.0))).points
    ((0, 1.0), (10, 2.0))
    """

    points: tuple[tuple[int, float], ...]  # (frame index >= 0, value), sorted by frame, frames unique
    mode: str = "linear"                   # one of MODES

    def __post_init__(self):
        try:
            pairs = [(frame, value) for frame, value in self.points]
        except (TypeError, ValueError):
            raise ReverieError(f"keyframes must be (frame, value) pairs, got {self.points!r}") from None
        if not pairs:
            raise ReverieError("keyframes need at least one key, like keys(\"0:0.01, 100:0.05\")")
        checked = []
        for frame, value in pairs:
            if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
                raise ReverieError(f"keyframe frame must be a whole number 0 or more, got {frame!r}")
            checked.append((frame, _finite_number(value, f"keyframe value at frame {frame}")))
        checked.sort(key=lambda pair: pair[0])
        frames = [frame for frame, _ in checked]
        repeated = sorted({frame for frame in frames if frames.count(frame) > 1})
        if repeated:
            raise ReverieError(f"keyframes repeat frame {repeated[0]}: give each frame one value")
        object.__setattr__(self, "points", tuple(checked))
        _check_mode(self.mode)

    def at(self, frame_index: int) -> float:
        """The value at ``frame_index``: interpolated or held, clamped to the first and last keys."""
        frames = [frame for frame, _ in self.points]
        after = bisect.bisect_right(frames, frame_index)  # keys at or before frame_index: [0, after)
        if after == 0:
            return self.points[0][1]
        if after == len(frames) or self.mode == "step":
            return self.points[after - 1][1]
        (start, low), (end, high) = self.points[after - 1], self.points[after]
        return low + (high - low) * (frame_index - start) / (end - start)

    def text(self) -> str:
        """The keys as ``"0:0.01, 100:0.05"``, the format :func:`keys` reads."""
        return ", ".join(f"{frame}:{format_number(value)}" for frame, value in self.points)

    def expression(self) -> str:
        """Expression text that :func:`keys` (as a frame transform argument) reads back to an equal value."""
        mode = "" if self.mode == "linear" else f", mode={quote_string(self.mode)}"
        return f"keys({quote_string(self.text())}{mode})"


def keys(text: str, mode: str = "linear") -> Keyframes:
    """Keyframes from text: ``"FRAME:VALUE, FRAME:VALUE, ..."``, e.g. ``keys("0:0.01, 100:0.05")``.

    Frames are whole numbers 0 or more (in any order, each once); values are numbers. ``mode`` is
    ``"linear"`` (default) or ``"step"``. A mistake raises ReverieError with its position.

    >>> keys("0:0.01, 100:-0.05").points
    ((0, 0.01), (100, -0.05))
    >>> keys("0:0.01 100:0.05")
    Traceback (most recent call last):
    ...
    reverie.errors.ReverieError: expected FRAME:VALUE (like 0:0.01) at position 0 in keys "0:0.01 100:0.05"
    """
    if not isinstance(text, str):
        raise ReverieError(f'keys(...) takes text like "0:0.01, 100:0.05", got {text!r}')
    _check_mode(mode)
    if not text.strip():
        raise ReverieError('keys(...) needs at least one key, like "0:0.01, 100:0.05"')
    points, pos = [], 0
    while pos < len(text):
        match = _KEY.match(text, pos)
        if not match or match.end() == pos:
            raise ReverieError(f'expected FRAME:VALUE (like 0:0.01) at position {pos} in keys "{text}"')
        value = float(match["value"])
        if not math.isfinite(value):
            raise ReverieError(f'keyframe value out of range at position {match.start("value")} in keys "{text}"')
        points.append((int(match["frame"]), value))
        pos = match.end()
        if text[match.end() - 1:match.end()] == "," and not text[pos:].strip():
            raise ReverieError(f'expected FRAME:VALUE after the last comma at position {pos} in keys "{text}"')
    return Keyframes(tuple(points), mode)


def value_at(value: float | int | Keyframes, frame_index: int) -> float:
    """A parameter's value at ``frame_index``: a plain number as it is, a Keyframes value read at that frame.

    >>> value_at(keys("0:0, 10:1", mode="step"), 9), value_at(keys("10:1, 20:3"), 0)
    (0.0, 1.0)
    """
    if isinstance(value, Keyframes):
        return value.at(frame_index)
    return _finite_number(value, "a keyframed parameter")


# --- keyframed dream options ---------------------------------------------------------------------

_OPTION_KEY = re.compile(r"\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*")
_OPTION_VALUE = re.compile(
    r"(?P<number>" + _NUMBER + r")(?![A-Za-z0-9_.])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)"
)
_ENTRY = re.compile(r"\s*(?P<frame>[0-9]+)\s*:")
_SEPARATOR = re.compile(r"\s*(,|$)")
_BOOLEANS = {"true": True, "True": True, "false": False, "False": False}

Option = str | int | float | bool


def _skip_spaces(text: str, pos: int) -> int:
    """The position of the first non-space at or after ``pos``: where an error should point."""
    return len(text) - len(text[pos:].lstrip())


def _option_value(entry: str, pos: int) -> tuple[Option, int]:
    """The option value that starts at ``pos`` in ``entry``, and the position just after it."""
    pos = _skip_spaces(entry, pos)
    if entry[pos:pos + 1] in ("'", '"'):
        return read_string(entry, pos)  # the expression grammar's strings: \\, \' and \" escaped
    match = _OPTION_VALUE.match(entry, pos)
    if not match:
        raise ReverieError(f"expected a value (number, name or quoted text) at position {pos} "
                           f'in option keyframe "{entry}"')
    if match["name"] is not None:
        return _BOOLEANS.get(match["name"], match["name"]), match.end()
    word = match["number"]
    try:
        value = float(word) if re.search("[.eE]", word) else int(word)
        finite = math.isfinite(value)  # OverflowError for an int past a float's range
    except (ValueError, OverflowError):  # ValueError: an int of over 4300 digits
        value, finite = math.inf, False
    if not finite:
        raise ReverieError(f'number out of range at position {pos} in option keyframe "{escaped(entry, 80)}"')
    return value, match.end()


def _parse_option_entry(entry: str) -> tuple[int, dict[str, Option]]:
    """``"200: layer=blocks.12, steps=8"`` -> ``(200, {"layer": "blocks.12", "steps": 8})``."""
    if not isinstance(entry, str):
        raise ReverieError(f'option keyframes are text like "0: layer=blocks.10", got {entry!r}')
    match = _ENTRY.match(entry)
    if not match:
        raise ReverieError(f'expected FRAME: at position 0 in option keyframe "{entry}" '
                           f'(like "0: layer=blocks.10, steps=8")')
    frame, options, pos = int(match["frame"]), {}, match.end()
    while True:
        key = _OPTION_KEY.match(entry, pos)
        if not key:
            where = _skip_spaces(entry, pos)
            raise ReverieError(f'expected NAME=VALUE at position {where} in option keyframe "{entry}"')
        name = key["name"]
        if name in options:
            raise ReverieError(f"option '{name}' given twice at position {key.start('name')} "
                               f'in option keyframe "{entry}"')
        options[name], pos = _option_value(entry, key.end())
        rest = _SEPARATOR.match(entry, pos)
        if not rest:
            raise ReverieError(f"expected ',' or the end at position {pos} in option keyframe \"{entry}\"")
        pos = rest.end()
        if rest.group(1) != ",":
            return frame, options


def _interpolates(low: Option, high: Option) -> bool:
    """Floats glide between keys; names, whole numbers and flags hold (step)."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    return numbers and (isinstance(low, float) or isinstance(high, float))


@dataclass(frozen=True)
class OptionKeyframes:
    """Dream options that change at keyframes: call it with a frame index to get that frame's overrides.

    Built by :func:`option_keyframes`. An option is absent (the loop's own setting applies) before
    the first key that names it, and keeps its last value after the last key that names it. Between
    two keys that both name it, numbers glide linearly when either end is a float (written with a
    point, ``0.5`` or ``8.0``) unless ``mode="step"``; names, whole numbers and flags hold their value
    until the next key.
    """

    keys: tuple[tuple[int, tuple[tuple[str, Option], ...]], ...]  # (frame, ((name, value), ...)), sorted
    mode: str = "linear"  # "step" holds floats too

    def __call__(self, frame_index: int) -> dict[str, Option]:
        overrides: dict[str, Option] = {}
        for name in dict.fromkeys(name for _, options in self.keys for name, _ in options):
            track = [(frame, dict(options)[name]) for frame, options in self.keys if name in dict(options)]
            after = bisect.bisect_right([frame for frame, _ in track], frame_index)
            if after == 0:
                continue
            start, low = track[after - 1]
            if after == len(track) or self.mode == "step" or not _interpolates(low, track[after][1]):
                overrides[name] = low
                continue
            end, high = track[after]
            overrides[name] = low + (high - low) * (frame_index - start) / (end - start)
        return overrides

    def texts(self) -> list[str]:
        """The entries as text (``["0: layer=blocks.10", ...]``) that :func:`option_keyframes` reads back."""
        return [f"{frame}: " + ", ".join(f"{name}={_option_text(value)}" for name, value in options)
                for frame, options in self.keys]


def _option_text(value: Option) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return format_number(value, keep_point=True)  # keeps "8.0" a float: whether an option glides depends on it
    # A name is written bare unless it would read back as a flag; anything else is a quoted string.
    return quote_string(value) if value in _BOOLEANS else quote_name(value)


def option_keyframes(entries: Sequence[str], mode: str = "linear",
                     allowed: Collection[str] | None = None) -> OptionKeyframes:
    """Keyframed dream options from text entries ``"FRAME: NAME=VALUE, NAME=VALUE, ..."``.

    Values are numbers (``8`` is a whole number, ``0.05`` a float), names (``blocks.12``),
    ``true``/``false``, or quoted text (``"odd/layer"``). The result is a function from frame index
    to a dict of option overrides (see :class:`OptionKeyframes` for how values carry between keys).
    ``allowed``, when given, lists the option names a key may set; others raise ReverieError with
    the nearest valid names. ``mode="step"`` holds floats too instead of interpolating them.

    >>> options = option_keyframes(["0: layer=blocks.10, step_size=0.02",
    ...                             "200: layer=blocks.12, steps=8, step_size=0.04"])
    >>> options(100)
    {'layer': 'blocks.10', 'step_size': 0.03}
    >>> options(300)
    {'layer': 'blocks.12', 'step_size': 0.04, 'steps': 8}
    """
    _check_mode(mode)
    if isinstance(entries, str):
        raise ReverieError('option keyframes are a list of entries like ["0: layer=blocks.10"], not one text')
    parsed: dict[int, tuple[tuple[str, Option], ...]] = {}
    for entry in entries:
        frame, options = _parse_option_entry(entry)
        if frame in parsed:
            raise ReverieError(f"option keyframes repeat frame {frame}: put its options in one entry")
        if allowed is not None:
            for name in options:
                if name not in allowed:
                    raise ReverieError(unknown_name_message("option", name, sorted(allowed))
                                       + f' in option keyframe "{entry}"')
        parsed[frame] = tuple(options.items())
    return OptionKeyframes(tuple(sorted(parsed.items())), mode)


__all__ = ["Keyframes", "keys", "value_at", "MODES", "OptionKeyframes", "option_keyframes", "Option"]
