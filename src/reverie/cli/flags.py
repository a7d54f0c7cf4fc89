"""Recipe fields as command-line flags: one typer option per field, and one merge of flags into a recipe.

A field's flag, help text and default are declared once, with :func:`reverie.fields.option`, on the
recipe (and its parts: ``model``, ``settings``). ``reverie --help`` must answer in well under a second,
and the recipe classes live in modules that import torch (seconds), so the command line reads that
metadata from :mod:`reverie.cli.flag_table`, which ``python -m reverie.cli.flags`` writes from the
recipe classes; ``tests/test_cli.py`` fails when it is stale.

>>> param_name("--from"), param_name("--step-size")
('from_', 'step_size')
"""
from __future__ import annotations

import dataclasses
import inspect
import keyword
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from reverie.cli.common import COMMANDS, parse_size, say
from reverie.cli.flag_table import FLAGS
from reverie.errors import ReverieError
from reverie.fields import display_name
from reverie.version import __version__


@dataclass(frozen=True)
class Flag:
    """One recipe field as a command-line option."""

    path: str                     # the field it sets, e.g. "settings.steps" or "model.name"
    flag: str                     # e.g. "--steps"
    short: str | None             # e.g. "-l"
    type: str                     # int, float, text, bool, size (WIDTHxHEIGHT), or a repeatable texts/ints/floats
    default: str                  # the default as help shows it; "" for none
    help: str
    choices: tuple[str, ...] = ()

    @property
    def param(self) -> str:
        return param_name(self.flag)

    def help_text(self, extra: str = "") -> str:
        first_word = self.help.split(" ")[0]
        text = self.help[:1].upper() + self.help[1:] if first_word.isalpha() else self.help  # not "open_clip", "fft:"
        if self.choices:
            text += f": {', '.join(self.choices)}"
        text += f"{extra}."
        return text + (f" [default: {self.default}]" if self.default else "")


def param_name(flag: str) -> str:
    """The Python parameter a flag arrives in: ``--step-size`` -> ``step_size``."""
    name = flag.lstrip("-").replace("-", "_")
    return name + "_" if keyword.iskeyword(name) else name


def flags_of(kind: str) -> dict[str, Flag]:
    """``kind``'s recipe flags, by parameter name."""
    return {flag.param: flag for flag in map(_as_flag, FLAGS[kind])}


def _as_flag(entry: tuple) -> Flag:
    path, flag, short, type_, default, help_, choices = entry
    return Flag(path, flag, short, type_, default, help_, tuple(choices))


def field_help(kind: str, param: str, extra: str = "") -> str:
    """The help of ``kind``'s flag ``param``, for an option a command declares by hand
    (``extra`` is added before the period, e.g. ", e.g. 0-15 or 3,7,9")."""
    return flags_of(kind)[param].help_text(extra)


# --- typer parameters from the table ----------------------------------------------------------

_ANNOTATIONS = {"int": Optional[int], "float": Optional[float], "text": Optional[str], "bool": Optional[bool],
                "size": Optional[str], "texts": Optional[list[str]], "ints": Optional[list[int]],
                "floats": Optional[list[float]]}
RUN_OPTIONS = ("device", "max_work", "recipe", "finish", "quiet")  # listed after the recipe's flags in help


def recipe_flags(kind: str) -> Callable[[Callable], Callable]:
    """Decorator: gives a command that ends in ``**flags`` one option per flag of ``kind``'s recipe.

    The command's own parameters win a clash (a flag it declares by hand, e.g. ``--channels 0-15``).
    Every added option defaults to None, meaning "keep the recipe's value" (see :func:`with_flags`).
    """
    def decorate(command: Callable) -> Callable:
        signature = inspect.signature(command, eval_str=True)
        own = [p.replace(kind=p.KEYWORD_ONLY) for p in signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
        taken = {p.name for p in own}
        added = [_parameter(flag) for flag in flags_of(kind).values() if flag.param not in taken]
        first = [p for p in own if p.name not in RUN_OPTIONS]
        last = [p for p in own if p.name in RUN_OPTIONS]
        command.__signature__ = signature.replace(parameters=first + added + last)
        return command
    return decorate


def _parameter(flag: Flag) -> inspect.Parameter:
    names = [f"{flag.flag}/--no-{flag.flag[2:]}"] if flag.type == "bool" else [flag.flag]
    if flag.short:
        names.append(flag.short)
    help_ = flag.help_text(" (repeatable)" if flag.type in ("texts", "ints", "floats") else "")
    option = typer.Option(*names, help=help_, show_default=False)
    return inspect.Parameter(flag.param, inspect.Parameter.KEYWORD_ONLY, default=None,
                             annotation=Annotated[_ANNOTATIONS[flag.type], option])


# --- flags into a recipe -----------------------------------------------------------------------

def with_flags(recipe, flags: Mapping[str, Any], **changes):
    """``recipe`` with every flag that was given set on the field it names; a flag left as None keeps
    the recipe's value. ``flags``: the command's parameters, by name (others are ignored);
    ``changes``: other fields the command sets, made in the same step (the recipe checks them together).

    Nested parts (``settings``, ``model``) are changed field by field. ``--model`` makes a fresh
    model part, trusted because the user named it, without the recipe's weights and normalization
    (they belonged to the recipe's model); ``--weights``/``--normalize`` alone keep the recipe's model,
    trusted or not.
    """
    from reverie.models import (
        ModelSpec,  # heavy (torch): only commands that run get here
    )

    changes = {**changes, "version": __version__}
    for name, flag in flags_of(recipe.KIND).items():
        value = flags.get(name)
        if value is None:
            continue
        *parts, field = flag.path.split(".")
        nested = changes
        for part in parts:
            nested = nested.setdefault(part, {})
        nested[field] = _value(flag, value)

    def apply(part, part_changes: dict):
        values = {name: apply(getattr(part, name), value) if isinstance(value, dict) else value
                  for name, value in part_changes.items()}
        if isinstance(part, ModelSpec) and "name" in values:
            return ModelSpec(**values)
        if getattr(part, "origin", None) is not None:  # a file named again here is the user's own
            values["origin"] = part.origin.without(values)
        return replace(part, **values)
    return apply(recipe, changes)


def _value(flag: Flag, value: Any) -> Any:
    if flag.type == "size":
        return parse_size(value)
    if flag.type in ("texts", "ints", "floats"):
        return tuple(value)
    return value


def base_recipe(kind: str, path: Path | None, finish: bool = False):
    """The recipe a command starts from: the one in ``--recipe``'s file (checked to be of ``kind``),
    or ``kind``'s defaults. A version difference is noted; ``finish`` drops where a stopped run
    stopped, so the replay runs to the end."""
    from reverie.tasks import (  # heavy (torch): only commands that run get here
        read_recipe,
        task,
    )

    if path is None:
        return task(kind).recipe()
    recipe = read_recipe(path)
    if recipe.KIND != kind:
        raise ReverieError(f"{path} holds a {recipe.KIND} recipe; replay it with "
                           f"reverie {COMMANDS.get(recipe.KIND, recipe.KIND)} --recipe {path}")
    note_version(recipe)
    return replace(recipe, stopped_at=None) if finish else recipe


def note_version(recipe) -> None:
    if recipe.version != __version__:
        say(f"note: recipe made by Reverie {recipe.version}, replaying with {__version__}")


# --- the table ---------------------------------------------------------------------------------

def flag_table() -> dict[str, list[tuple]]:
    """Every task's flags, read from its recipe class (imports every task, so torch)."""
    from reverie.tasks import TASKS

    table = {kind: [_entry(*found) for found in _fields(task.recipe, task.recipe(), "")]
             for kind, task in TASKS.items()}
    for kind, entries in table.items():
        names = [entry[1] for entry in entries]
        if len(set(names)) != len(names):
            raise ValueError(f"{kind} recipe declares a flag twice: {sorted(n for n in names if names.count(n) > 1)}")
    return table


def _fields(cls: type, instance: Any, prefix: str):
    """(path, hint, metadata, default) of every field of ``cls`` that has a flag, parts included; the
    class's own fields first, then those of the classes it builds on (so help starts with the task's)."""
    hints = typing.get_type_hints(cls)
    depth = {name: level for level, owner in reversed(list(enumerate(cls.__mro__)))
             for name in vars(owner).get("__annotations__", {})}
    for item in sorted(dataclasses.fields(cls), key=lambda item: depth.get(item.name, 0)):
        hint, value = hints[item.name], getattr(instance, item.name)
        if dataclasses.is_dataclass(hint):  # a part every recipe of the kind has: its fields are flags
            yield from _fields(hint, value, f"{prefix}{item.name}.")
        # A field a recipe does not store is a flag only where it names one (model.compile: how it runs).
        elif item.metadata.get("flag") is not False and (item.metadata.get("stored", True)
                                                         or isinstance(item.metadata.get("flag"), str)):
            yield f"{prefix}{item.name}", hint, item.metadata, value


def _entry(path: str, hint: Any, metadata: Mapping[str, Any], default: Any) -> tuple:
    name = path.rpartition(".")[2]
    return (path, metadata.get("flag") or "--" + display_name(name), metadata.get("short"), _type(hint, path),
            _shown(default), metadata.get("help", ""), list(metadata.get("choices") or ()))


def _type(hint: Any, path: str) -> str:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # X | None: the flag sets an X
        inner = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        hint = inner[0] if len(inner) == 1 else hint
    args = list(typing.get_args(hint))
    simple = {int: "int", float: "float", str: "text", bool: "bool"}
    if hint in simple:
        return simple[hint]
    if typing.get_origin(hint) is tuple:
        if args == [int, int]:
            return "size"
        if len(args) == 2 and args[1] is Ellipsis and args[0] in simple and args[0] is not bool:
            return {int: "ints", float: "floats", str: "texts"}[args[0]]
    raise TypeError(f"recipe field {path} ({hint}) has no command-line form; declare it with flag=False")


def _shown(value: Any) -> str:
    if value is None or value == "" or value == ():
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return "x".join(map(str, value)) if len(value) == 2 and all(type(v) is int for v in value) \
            else ",".join(map(_shown, value))
    return str(value)


def write_table(path: Path) -> None:
    lines = ['"""Every task\'s recipe flags: (path, flag, short, type, default, help, choices).',
             "",
             "Written by ``python -m reverie.cli.flags`` from the recipe classes' option() declarations; do not",
             'edit. It exists so that ``reverie --help`` need not import torch (see reverie.cli.flags)."""',
             "# fmt: off", "", "FLAGS = {"]
    for kind, entries in flag_table().items():
        lines += [f"    {kind!r}: [", *(f"        {entry!r}," for entry in entries), "    ],"]
    path.write_text("\n".join([*lines, "}", ""]))


if __name__ == "__main__":
    write_table(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("flag_table.py"))
