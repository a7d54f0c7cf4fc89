"""Settings fields that carry their default, help text and valid range, written once for every face.

A recipe or settings dataclass declares each field with :func:`option`; :func:`check_fields` validates
an instance against those declarations (one message style for every field), the recipe schema reads
them, and the command line builds its flags and help from them. No default or range is typed twice.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Example:
...     steps: int = option(20, "gradient steps", low=1, high=10_000)
...     def __post_init__(self):
...         check_fields(self)
>>> Example(steps=0)
Traceback (most recent call last):
...
reverie.errors.ReverieError: steps must be a whole number from 1 to 10000, got 0
"""
from __future__ import annotations

import dataclasses
import math
import os
import stat
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from reverie.errors import ReverieError, unknown_name_message

_MISSING = dataclasses.MISSING


def option(default: Any = _MISSING, help: str = "", *, low: float | None = None, high: float | None = None,
           choices: Sequence[str] | None = None, flag: str | None | bool = None, short: str | None = None,
           default_factory: Callable[[], Any] | Any = _MISSING, stored: bool = True,
           max_length: int | None = None, max_items: int | None = None, compare: bool = True,
           file: str | None = None, tags: bool = False, absent: Any = _MISSING) -> Any:
    """A dataclass field with its help text and bounds.

    ``low``/``high`` bound numbers (and each item of a tuple of numbers); ``choices`` lists the valid
    words of a text field; ``max_length`` caps text (each item of a tuple of texts) and ``max_items``
    a tuple's length. ``flag``: the command-line flag name (default: ``--field-name``), ``False`` for
    a field the command line does not offer; ``short``: a one-letter alias (``-l``).
    ``stored=False``: kept in memory but never written to, nor read from, a recipe file;
    ``compare=False``: left out of equality. ``file``: the field names a file to read (a path, or
    ``"sample:NAME"``/``"noise"``), and this is how the command line names it again (``"INPUT"``,
    ``"--mask"``): a value read from a recipe file is confined to that file's folder (see :class:`Origin`);
    ``tags=True``: a value without a folder or a file suffix is a name (a pretrained tag), not a file.
    ``absent``: what a recipe file that lacks this field means. A field added with a new default that
    changes pixels sets it to the old behaviour, so that recipes written before the field existed still
    replay to the same pixels (new recipes always store the field).
    """
    metadata = {"help": help, "low": low, "high": high, "choices": tuple(choices) if choices else None,
                "flag": flag, "short": short, "stored": stored, "max_length": max_length, "max_items": max_items,
                "file": file, "tags": tags, "absent": absent}
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata, compare=compare)
    return dataclasses.field(default=default, metadata=metadata, compare=compare)


def display_name(name: str) -> str:
    """How a field is named to a user: its flag's spelling (``step_size`` -> ``step-size``)."""
    return name.replace("_", "-")


def check_fields(instance: Any) -> None:
    """Validate every field of a dataclass instance against its type and :func:`option` bounds."""
    hints = typing.get_type_hints(type(instance))
    for item in dataclasses.fields(instance):
        check_value(getattr(instance, item.name), hints[item.name], item.metadata, display_name(item.name))


def check_value(value: Any, hint: Any, metadata: typing.Mapping[str, Any], name: str) -> None:
    """``value`` fits ``hint`` and the bounds in ``metadata``; else a one-line ReverieError naming ``name``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return
        inner = [arg for arg in args if arg is not type(None)]
        hint, origin, args = inner[0], typing.get_origin(inner[0]), typing.get_args(inner[0])
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, hint):
            raise ReverieError(f"{name} must be a {hint.__name__}, got {_shown(value)}")
        return  # it validated itself when it was made
    if origin is tuple:
        if not isinstance(value, tuple):
            raise ReverieError(f"{name} must be a tuple, got {_shown(value)}")
        fixed = not (len(args) == 2 and args[1] is Ellipsis)
        if fixed and len(value) != len(args):
            raise ReverieError(f"{name} must have {len(args)} items, got {_shown(value)}")
        limit = metadata.get("max_items")
        if limit is not None and len(value) > limit:
            raise ReverieError(f"{name} must have at most {limit} items, got {len(value)}")
        for item, item_hint in zip(value, args if fixed else [args[0]] * len(value)):
            _check_scalar(item, item_hint, metadata, name)
        return
    _check_scalar(value, hint, metadata, name)


def _check_scalar(value: Any, hint: Any, metadata: typing.Mapping[str, Any], name: str) -> None:
    low, high = metadata.get("low"), metadata.get("high")
    if hint is bool:
        if not isinstance(value, bool):
            raise ReverieError(f"{name} must be true or false, got {_shown(value)}")
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int) or not _within(value, low, high):
            raise ReverieError(f"{name} must be a whole number{_range(low, high)}, got {_shown(value)}")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not _within(value, low, high):
            raise ReverieError(f"{name} must be a finite number{_range(low, high)}, got {_shown(value)}")
    elif hint is str:
        if not isinstance(value, str):
            raise ReverieError(f"{name} must be text, got {_shown(value)}")
        limit = metadata.get("max_length")
        if limit is not None and len(value) > limit:
            raise ReverieError(f"{name} must be at most {limit} characters, got {len(value)}")
        choices = metadata.get("choices")
        if choices and value not in choices:
            raise ReverieError(unknown_name_message(name, value, choices))


def _within(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _range(low: float | None, high: float | None) -> str:
    def text(number: float) -> str:
        return f"{number:g}"
    if low is not None and high is not None:
        return f" from {text(low)} to {text(high)}"
    if low is not None:
        return f" of at least {text(low)}"
    if high is not None:
        return f" of at most {text(high)}"
    return ""


def _shown(value: Any) -> str:
    """A value echoed in an error: its repr, cut short so a huge input cannot flood the terminal."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"a {value.bit_length()}-bit number"  # repr of a 4300-digit int raises ValueError
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- fields naming files, read from a stranger's recipe ---------------------------------------

NOT_FILES = ("sample:", "noise", "live:")  # values of a file field that name no file


@dataclass(frozen=True)
class Origin:
    """Where a recipe (or its model part) was read from, and the values its file fields had there.

    The path rule for recipes strangers share: a file field still holding the value read from the
    file may name only a regular file at a relative path inside the recipe file's own folder (no
    absolute path, no ``..``, no link out, no device or FIFO). A value the caller changed, or named
    again (:meth:`without`), is the caller's own and is read as given.
    """

    folder: str | None                   # the recipe file's folder; None for recipe text (no folder)
    files: tuple[tuple[str, str], ...]   # (field name, value as read) of each file field naming a file

    def confines(self, name: str, value: object) -> bool:
        """Whether field ``name``'s ``value`` is the one read from the file (so the rule applies)."""
        return (name, value) in self.files

    def without(self, names) -> Origin:
        """This origin, less the fields ``names`` (named again by the caller, so theirs)."""
        return Origin(self.folder, tuple(item for item in self.files if item[0] not in set(names)))

    def path(self, name: str, value: str, how: str = "") -> Path:
        """The file field ``name`` = ``value`` names, under the rule; a ReverieError says which field
        broke it and how to pass the file explicitly (``how``: its flag or argument)."""
        again = f"name the file yourself{f' ({how})' if how else ''} to use it"
        shown = escaped(value)
        if self.folder is None:
            raise ReverieError(f"the recipe's {name} names a file ({shown}) but the recipe was not read from a "
                               f"file, so no folder may hold it; {again}")
        relative = PurePath(value)
        if relative.is_absolute() or relative.anchor or value.startswith("~"):
            raise ReverieError(f"the recipe's {name} is an absolute path ({shown}); a replayed recipe reads only "
                               f"files in its own folder; {again}")
        if ".." in relative.parts:
            raise ReverieError(f"the recipe's {name} leads out of its folder ({shown}); a replayed recipe reads "
                               f"only files in its own folder; {again}")
        folder = Path(self.folder)
        path = folder / relative
        try:
            inside = path.resolve().is_relative_to(folder.resolve())
            status = os.stat(path) if inside else None
        except (OSError, RuntimeError):  # missing, a link loop, a name too long
            status = None
            inside = True
        if not inside:
            raise ReverieError(f"the recipe's {name} ({shown}) is a link out of the recipe's folder; {again}")
        if status is None:
            raise ReverieError(f"the recipe's {name} ({shown}) is not in the recipe's folder "
                               f"{escaped(str(folder))}; {again}")
        if not stat.S_ISREG(status.st_mode):
            raise ReverieError(f"the recipe's {name} ({shown}) is not a regular file (a folder, device or FIFO); "
                               f"{again}")
        return path


def file_values(instance: Any) -> list[tuple[str, str]]:
    """(field name, value) of every file field of a dataclass instance that names a file."""
    found = []
    for item in dataclasses.fields(instance):
        value = getattr(instance, item.name)
        if item.metadata.get("file") and isinstance(value, str) and value and not value.startswith(NOT_FILES):
            if item.metadata.get("tags") and not (PurePath(value).suffix or "/" in value or "\\" in value):
                continue  # a pretrained tag, looked up in a cache, not a path
            found.append((item.name, value))
    return found


def escaped(text: str, limit: int | None = 80) -> str:
    r"""Text from a file as an error shows it: control characters escaped (a crafted file cannot
    retitle or clear a terminal), cut with an ellipsis past ``limit`` characters (None: never cut).

    >>> escaped("\x1b]0;pwned\x07 layer"), escaped("x" * 100, 10)
    ('\\x1b]0;pwned\\x07 layer', 'xxxxxxx...')
    """
    shown = "".join(char if char.isprintable() else repr(char)[1:-1] for char in str(text))
    return shown if limit is None or len(shown) <= limit else shown[:limit - 3] + "..."
