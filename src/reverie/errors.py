"""The one exception type for user mistakes, and the helper that suggests nearest valid names."""
from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable


class ReverieError(Exception):
    """A user mistake or an unusable input: the message says what was wrong and what is valid.

    Front ends print the message as one line and exit with status 2; the library only raises it.
    """


class ReverieNote(UserWarning):
    """Something worth one line to the user that is not an error: what was detected about a model, or a
    setting that will likely disappoint (a model in training mode). The command line prints it as
    ``note: ...``; in Python it is a warning (``warnings.simplefilter("ignore", ReverieNote)`` hides it).
    """


def note(text: str) -> None:
    """Tell the user ``text`` (one line) through the front end, without stopping the work."""
    warnings.warn(text, ReverieNote, stacklevel=3)


def nearest(name: str, valid: Iterable[str], count: int = 3) -> list[str]:
    """The valid names closest to ``name`` (best first), for "did you mean" hints."""
    valid = list(valid)
    close = difflib.get_close_matches(name, valid, n=count, cutoff=0.5)
    if close:
        return close
    # Names like "block5" vs "blocks.5" score low on ratio; fall back to shared-prefix matches.
    stem = name.rstrip("0123456789.")
    return [v for v in valid if stem and v.startswith(stem)][:count]


def unknown_name_message(kind: str, name: str, valid: Iterable[str]) -> str:
    """``unknown layer 'blocks.55' (nearest: blocks.5, blocks.15)``, for any kind of name."""
    valid = list(valid)
    close = nearest(name[:200], valid)
    if len(name) > 60:  # an echoed name is cut: a huge one must not flood the terminal
        name = name[:57] + "..."
    if close:
        return f"unknown {kind} '{name}' (nearest: {', '.join(close)})"
    shown = ", ".join(valid[:8]) + (", ..." if len(valid) > 8 else "")
    return f"unknown {kind} '{name}' (valid: {shown})"
