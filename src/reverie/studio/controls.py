"""A task's page controls, read off its recipe schema: one control per field a person sets, grouped
the way people think about a dream (objective, image, transforms, octaves, optimisation, output).

This module knows no Gradio: it turns a schema into :class:`Control` descriptions, control values
into a recipe (through the same strict reader a recipe file goes through, so the page's mistakes get
the command line's one-line messages), and a recipe back into control values (a dropped file).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from reverie.cli.common import parse_channels, parse_size
from reverie.errors import ReverieError
from reverie.recipe import Recipe, StopPoint, from_json, to_data
from reverie.tasks import recipe_schema

GROUPS = ("objective", "image", "transforms", "octaves and tiles", "optimisation", "model", "frames and output")

# Which group a field belongs to, by name. Fields not listed fall into "optimisation".
_GROUP_OF = {
    **dict.fromkeys(("objective", "layer", "channels", "layers", "content_layers", "style_layers", "blend",
                     "blend_ramp", "text", "text_weight", "clip_model", "cutouts", "power", "alignment",
                     "start", "end", "style_weight", "content_weight"), "objective"),
    **dict.fromkeys(("size", "param", "decay_power", "decorrelate", "alpha", "batch", "init", "style_scale",
                     "render_size", "views"), "image"),
    **dict.fromkeys(("transforms", "jitter", "keyframes", "crop"), "transforms"),
    **dict.fromkeys(("octaves", "octave_scale", "tile", "min_octave_size"), "octaves and tiles"),
    **dict.fromkeys(("name", "normalize", "precision", "memory_format"), "model"),
    **dict.fromkeys(("frames", "fps", "flow"), "frames and output"),
}
# Per task exceptions: a video's ``blend`` is how much of the last dreamed frame carries over.
_GROUP_OF_IN = {("video", "blend"): "frames and output"}

# Fields that name files: the page gives them upload widgets of their own (see reverie.studio.inputs).
FILE_FIELDS = ("source", "mask", "content", "style", "mesh", "clip_weights", "guide")
# Fields the page never shows: bookkeeping a run fills in, or what the studio's launch fixes.
_HIDDEN = ("kind", "version", "made_with", "stopped_at", "frame_index", "item", "model.weights")


@dataclass(frozen=True)
class Control:
    """One field of a task's recipe as a page control."""

    path: str             # the field's place in the recipe ("settings.steps")
    kind: str             # integer, number, choice, flag, text, integers, texts, size, keyframes
    label: str
    help: str
    default: Any
    group: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False  # None (blank) is a valid value

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]


def _leaves(node: dict, prefix: str = "") -> list[tuple[str, dict]]:
    found = []
    for name, spec in node.get("properties", {}).items():
        if spec.get("type") == "object" and "properties" in spec:
            found += _leaves(spec, f"{prefix}{name}.")
        else:
            found.append((prefix + name, spec))
    return found


def _control(kind: str, path: str, spec: dict) -> Control:
    optional = False
    if "anyOf" in spec:
        options = [item for item in spec["anyOf"] if item.get("type") != "null"]
        optional = len(options) < len(spec["anyOf"])
        spec = {**options[0], **{key: value for key, value in spec.items() if key != "anyOf"}}
    name = path.rsplit(".", 1)[-1]
    label = "model" if path == "model.name" else name.replace("_", " ")
    common = {"path": path, "label": label, "help": spec.get("description", ""),
                  "default": spec.get("default"), "group": _GROUP_OF_IN.get((kind, name), _GROUP_OF.get(name, "optimisation")),
                  "optional": optional}
    if "enum" in spec:
        return Control(kind="choice", choices=tuple(spec["enum"]), **common)
    type_ = spec.get("type")
    if type_ in ("integer", "number"):
        return Control(kind=type_, minimum=spec.get("minimum"), maximum=spec.get("maximum"), **common)
    if type_ == "boolean":
        return Control(kind="flag", **common)
    if type_ == "array" and "prefixItems" in spec:
        return Control(kind="size", **common)
    if type_ == "array" and name == "keyframes":
        return Control(kind="keyframes", **common)
    if type_ == "array":
        items = spec.get("items", {})
        return Control(kind="integers" if items.get("type") == "integer" else "texts",
                       minimum=items.get("minimum"), **common)
    return Control(kind="text", **common)


def controls_for(kind: str) -> list[Control]:
    """The page controls of task ``kind``, in schema order (file fields and bookkeeping left out)."""
    return [_control(kind, path, spec) for path, spec in _leaves(recipe_schema(kind))
            if path not in _HIDDEN and path not in FILE_FIELDS and not path.endswith("_sha256")]


def file_fields(kind: str) -> list[str]:
    """The fields of task ``kind`` that name files, in schema order."""
    return [path for path, _ in _leaves(recipe_schema(kind)) if path in FILE_FIELDS]


# -- values <-> text shown in the page -------------------------------------------------------------

def blank_number(control: Control) -> bool:
    """A number that may be left blank is a text box: a browser's number box sends 0 for blank."""
    return control.optional and control.kind in ("integer", "number")


def shown(control: Control, value: Any) -> Any:
    """A recipe value as its control holds it (lists as text, sizes as WIDTHxHEIGHT, None as blank)."""
    if value is None:
        return "" if control.kind in ("size", "text") or blank_number(control) else None
    if blank_number(control):
        return str(value)
    if control.kind == "size":
        return f"{value[0]}x{value[1]}"
    if control.kind == "integers":
        return ", ".join(str(item) for item in value)
    if control.kind == "keyframes":  # a table: one row per keyframe, its frame and its changes
        rows = []
        for text in value:
            frame, _, changes = text.partition(":")
            rows.append([int(frame) if frame.strip().isdigit() else frame.strip(), changes.strip()])
        return rows
    if control.kind == "texts":
        return "\n".join(value) if control.name in ("transforms", "keyframes") else ", ".join(value)
    return value


def _parsed(control: Control, value: Any) -> Any:
    """A control's value as recipe data; a ReverieError names the control when it cannot be read."""
    if control.kind in ("integer", "number"):
        if isinstance(value, str):  # an optional number's text box (see blank_number)
            value = value.strip()
            try:
                value = float(value) if value else None
            except ValueError:
                raise ReverieError(f"{control.label} must be a number or blank, got '{value[:40]}'") from None
        if value is None or value == "":
            if control.optional:
                return None
            raise ReverieError(f"{control.label} needs a value")
        if control.kind == "integer":
            if float(value) != int(float(value)):
                raise ReverieError(f"{control.label} must be a whole number, got {value}")
            return int(float(value))
        return float(value)
    if control.kind == "size":
        text = str(value or "").strip()
        if not text:
            if control.optional:
                return None
            raise ReverieError(f"{control.label} needs WIDTHxHEIGHT, e.g. 256x256")
        return list(parse_size(text))  # the command line's reader, so the page says what it says
    if control.kind == "integers":
        text = str(value or "").strip()
        if control.name == "channels":
            return list(parse_channels(text)) if text else []
        parts = text.replace(",", " ").split()
        if not all(part.isdigit() for part in parts):
            raise ReverieError(f"{control.label} must be whole numbers separated by commas, got '{text[:40]}'")
        return [int(part) for part in parts]
    if control.kind == "keyframes":
        rows = value.values.tolist() if hasattr(value, "values") else list(value or [])
        return [f"{_whole(frame)}: {str(changes).strip()}" for frame, changes, *_ in rows
                if str(changes or "").strip() or str(frame if frame is not None else "").strip()]
    if control.kind == "texts":
        separator = "\n" if control.name in ("transforms", "keyframes") else ","
        return [part.strip() for part in str(value or "").split(separator) if part.strip()]
    if control.kind == "flag":
        return bool(value)
    return "" if value is None else str(value)


def _whole(frame: Any) -> str:
    """A keyframe table's frame cell as text: 12.0 (a number cell) is 12."""
    if isinstance(frame, float) and frame.is_integer():
        return str(int(frame))
    return str(frame if frame is not None else "").strip()


def recipe_from(kind: str, values: dict[str, Any], files: dict[str, str | None],
                stopped_at: StopPoint | None = None, folder: str | os.PathLike | None = None) -> Recipe:
    """The recipe a page's controls describe. ``values``: control path -> page value; ``files``: file
    field -> the name the studio stored it under (or a ``sample:``/``noise`` source); ``stopped_at``:
    where a dropped recipe stopped, so that Run replays it to the same pixels; ``folder``: where the
    files it names are kept (the studio's inputs): they are confined to it as a recipe file's are.

    The data goes through the strict recipe reader, so every bound and name is checked exactly as
    for a recipe file or a command line. The model is marked untrusted by that reader: the studio
    always passes the model it loaded itself.
    """
    data: dict[str, Any] = {"kind": kind}
    for control in controls_for(kind):
        if control.path not in values:
            continue
        target = data
        *parents, leaf = control.path.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = _parsed(control, values[control.path])
    for field, name in files.items():
        if name is not None:
            data[field] = name
    if stopped_at is not None:
        data["stopped_at"] = to_data(stopped_at)
    return from_json(json.dumps(data), folder)


def values_from(recipe: Recipe) -> dict[str, Any]:
    """Control path -> page value for every control of the recipe's task (what a dropped file restores)."""
    data = to_data(recipe)
    values = {}
    for control in controls_for(recipe.KIND):
        node: Any = data
        for part in control.path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        values[control.path] = shown(control, node)
    return values
