"""One task's page: its file inputs, its controls (from the recipe schema), Run and Stop, the live
preview with its status line beside it, and the result as the file Reverie wrote.

Every component has a stable ``elem_id`` (``<kind>-<field>``) for browser tests and for people who
script the page.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from reverie.studio.controls import GROUPS, Control, blank_number, controls_for, shown
from reverie.studio.folder import MESH_TYPES
from reverie.studio.inputs import PAGE_FILES, FileInput

TITLES = {"dream": "Dream", "visualize": "Visualize", "interpolate": "Interpolate", "animate": "Animate",
          "video": "Dream a video", "caricature": "Caricature", "style": "Style", "texture": "Texture"}
OPEN_GROUPS = ("objective", "image")   # the accordions a page opens with; the rest start folded
FIRST = ("objective", "layer", "channels", "layers", "start", "end", "content_layers", "style_layers", "name", "size",
         "steps")  # shown first in their groups; the rest keep the schema's order
TEXT_PROMPT = ("text", "text_weight", "clip_model", "cutouts")  # shown only where open_clip is installed


def element_id(kind: str, path: str) -> str:
    return f"{kind}-{path.replace('.', '-').replace('_', '-')}"


def message_html(text: str) -> str:
    """A one-line message for the page (escaped: it may quote what the user typed)."""
    return f'<p class="reverie-message">{html.escape(text)}</p>' if text else ""


def _range(control: Control) -> str:
    if control.minimum is None and control.maximum is None:
        return ""
    low = "" if control.minimum is None else f"{control.minimum:g}"
    high = "" if control.maximum is None else f"{control.maximum:g}"
    return f" ({low} to {high})" if low and high else f" (at least {low})" if low else f" (at most {high})"


def control_widget(kind: str, control: Control, value: Any, model_names: list[str]) -> gr.components.Component:
    """The Gradio component for one control. Bounds are stated, not enforced by the widget: the recipe
    reader checks them and says so in the same words the command line uses."""
    info = (control.help + _range(control))[:240] or None
    common = {"label": control.label, "info": info, "elem_id": element_id(kind, control.path)}
    if control.path == "model.name":
        return gr.Dropdown(choices=model_names, value=value, allow_custom_value=False, **common)
    if control.kind == "choice":
        return gr.Dropdown(choices=list(control.choices), value=value, **common)
    if control.kind == "flag":
        return gr.Checkbox(value=bool(value), **common)
    if control.kind in ("integer", "number") and not blank_number(control):
        return gr.Number(value=value, precision=0 if control.kind == "integer" else None,
                         step=1 if control.kind == "integer" else 0.001, **common)
    if control.kind == "keyframes":
        return gr.Dataframe(value=value or [[None, ""]], headers=["frame", "changes, e.g. layer=blocks.12, steps=8"],
                            datatype=["number", "str"], column_count=2, type="array", interactive=True,
                            label=control.label, elem_id=common["elem_id"])
    lines = 3 if control.name in ("transforms", "objective", "blend") else 1
    placeholder = ("blank: the input's own size" if control.kind == "size" and control.optional
                   else "blank: the default" if blank_number(control) else None)
    return gr.Textbox(value=value, lines=lines, placeholder=placeholder, **common)


@dataclass
class FileWidgets:
    item: FileInput
    pick: gr.components.Component | None     # a dropdown of samples and "my file" (None for a mask)
    upload: gr.components.Component


@dataclass
class Page:
    """The components of one task's page, in the order the run handler receives them."""

    kind: str
    controls: list[Control]
    widgets: dict[str, gr.components.Component] = field(default_factory=dict)   # control path -> widget
    files: list[FileWidgets] = field(default_factory=list)
    stopped_at: gr.State | None = None
    run: gr.Button | None = None
    stop: gr.Button | None = None
    preview: gr.Image | None = None
    status: gr.Textbox | None = None
    message: gr.HTML | None = None
    result: gr.components.Component | None = None
    viewer: gr.Model3D | None = None
    download: gr.File | None = None
    recipe: gr.Code | None = None
    extras: dict[str, gr.components.Component] = field(default_factory=dict)

    def file_components(self) -> list[gr.components.Component]:
        found = []
        for widgets in self.files:
            found += [widgets.pick, widgets.upload] if widgets.pick is not None else [widgets.upload]
        return found

    def control_components(self) -> list[gr.components.Component]:
        return [self.widgets[control.path] for control in self.controls]


def _file_widgets(kind: str, item: FileInput) -> FileWidgets:
    base = element_id(kind, item.field)
    if item.kind == "mask":
        upload = gr.ImageMask(label=item.label, type="numpy", elem_id=base, sources=(), layers=False,
                              brush=gr.Brush(colors=["#ffffff"], color_mode="fixed", default_size=24),
                              height=320)
        return FileWidgets(item, None, upload)
    pick = gr.Dropdown(choices=item.picks(), value=item.default, label=item.label, elem_id=f"{base}-pick")
    if item.kind == "video":
        upload = gr.Video(label=f"{item.label} file", sources=["upload"], elem_id=f"{base}-upload", height=240)
    elif item.kind == "mesh":
        upload = gr.File(label=f"{item.label} file ({', '.join(MESH_TYPES)})", file_types=list(MESH_TYPES),
                         elem_id=f"{base}-upload", height=120)
    else:
        upload = gr.Image(label=f"{item.label} file", type="filepath", sources=["upload", "clipboard"],
                          elem_id=f"{base}-upload", height=240)
    return FileWidgets(item, pick, upload)


def build_page(kind: str, model_names: list[str], launch_model: str, prompts: bool,
               defaults: dict[str, Any] | None = None) -> Page:
    """Lay out one task's page inside the current Blocks context."""
    controls = [control for control in controls_for(kind) if prompts or control.path not in TEXT_PROMPT]
    page = Page(kind, controls)
    defaults = defaults or {}
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=320):
            for item in PAGE_FILES.get(kind, []):
                page.files.append(_file_widgets(kind, item))
            for group in GROUPS:
                members = sorted((control for control in controls if control.group == group),
                                 key=lambda control: FIRST.index(control.name) if control.name in FIRST else len(FIRST))
                if not members:
                    continue
                with gr.Accordion(group.capitalize(), open=group in OPEN_GROUPS, elem_id=f"{kind}-group-{group.split()[0]}"):
                    for control in members:
                        value = defaults.get(control.path, launch_model if control.path == "model.name" else control.default)
                        page.widgets[control.path] = control_widget(kind, control, shown(control, value), model_names)
            page.stopped_at = gr.State(None)
        with gr.Column(scale=6, min_width=320):
            with gr.Row():
                page.run = gr.Button("Run", variant="primary", elem_id=f"{kind}-run")
                page.stop = gr.Button("Stop (keeps the work)", variant="stop", elem_id=f"{kind}-stop")
            page.message = gr.HTML(elem_id=f"{kind}-message")
            with gr.Row(equal_height=False):
                page.preview = gr.Image(label="live preview", type="numpy", format="jpeg", interactive=False,
                                        elem_id=f"{kind}-preview", height=320, scale=3)
                page.status = gr.Textbox(label="progress", interactive=False, lines=4, elem_id=f"{kind}-status",
                                         scale=2)
            if kind in ("animate", "video"):
                page.result = gr.Video(label="result", interactive=False, elem_id=f"{kind}-result", height=360)
            else:
                page.result = gr.Image(label="result (the PNG Reverie wrote, recipe inside)", type="filepath",
                                       format="png", interactive=False, elem_id=f"{kind}-result", height=360)
            if kind == "texture":
                page.viewer = gr.Model3D(label="textured mesh", elem_id="texture-viewer", height=360)
            page.download = gr.File(label="download", file_count="multiple", interactive=False,
                                    elem_id=f"{kind}-download")
            with gr.Accordion("recipe", open=False, elem_id=f"{kind}-recipe-group"):
                page.recipe = gr.Code(language="json", interactive=False, elem_id=f"{kind}-recipe")
    return page
