"""Pick a layer and a channel by looking: a page of channel thumbnails (where each channel fires on your
photo, or what each one draws), then dream or visualize the chosen one with a live preview.

Needs ipywidgets (``pip install "reverie[notebook]"``).
"""
from __future__ import annotations

import html
import os

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from reverie.engine.deepdream import DreamSettings
from reverie.engine.optimize import RenderSettings
from reverie.errors import ReverieError
from reverie.expressions import quote_name
from reverie.imaging import Size, from_pil, grid
from reverie.models import ModelSpec, dreamable_layers, load_model, resolve_device
from reverie.notebook.live import run_shown
from reverie.pipelines.prepare import load_start, source_text
from reverie.pipelines.result import Result
from reverie.pipelines.show import png_bytes, shrunk
from reverie.recorder import ActivationRecorder
from reverie.tasks import TASKS

try:
    import ipywidgets as widgets
except ImportError:  # an optional extra: the picker says what to install when it is made
    widgets = None

THUMBNAILS = ("activations", "rendered")   # where each channel fires on the photo | what it draws (slower)
ORDERS = ("channel number", "most active first")
TASKS_RUN = ("dream", "visualize")
THUMBNAIL_STEPS = 48   # a rendered thumbnail: enough steps to show a channel's pattern at 64-96 px
DREAM = DreamSettings()
RENDER = RenderSettings(steps=256)   # a quarter of Lucid's 512: a clear pattern at 224 px in a minute or so


def activation_thumbnails(model: nn.Module, layer: str, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each channel of ``layer`` fires on ``image`` [1, 3, H, W]: the photo lit by the channel's
    positive activation, [C, 3, H, W], normalised over the whole layer (a weak channel stays dark), and
    each channel's mean positive activation [C] (what a dream of that channel amplifies first)."""
    with torch.no_grad(), ActivationRecorder(model, [layer]) as recorder:
        activation = recorder(image)[layer].float().clamp(min=0)[0]        # [C, h, w]
    if activation.ndim != 3:
        raise ReverieError(f"layer {layer} gives {list(activation.shape)} per image, not channel maps [C, H, W]")
    strength = activation.mean(dim=(1, 2))                                  # [C]
    peak = torch.quantile(activation.flatten(), 0.995).clamp(min=1e-8)      # robust to a few hot pixels
    heat = (activation / peak).clamp(0, 1).unsqueeze(1)                     # [C, h, w] -> [C, 1, h, w]
    heat = F.interpolate(heat, size=image.shape[-2:], mode="bilinear", align_corners=False)
    return image.cpu() * (0.15 + 0.85 * heat.cpu()), strength.cpu()         # [C, 3, H, W], [C]


class ChannelPicker:
    """A widget: choose a layer, page through its channels' thumbnails, click one, run it.

    ``image``: what to dream (a sample name, a path, a PIL image or a [1, 3, H, W] tensor), also what
    the activation thumbnails are computed on. ``model``: a registered name or any ``nn.Module``.
    ``task``: what Run does first ("dream" or "visualize"); ``size``: (width, height) of the run.
    ``settings`` / ``render_settings``: of the dream / the visualization; ``thumbnail_steps``: of each
    rendered thumbnail (``side`` px; rendered once per channel and kept). After a run, ``result``
    holds its result (``picker.result.save("chosen.png")``).
    """

    def __init__(self, image: str | os.PathLike | torch.Tensor | Image.Image = "chelsea", *,
                 model: str | ModelSpec | nn.Module = "efficientnet-lite0", layer: str | None = None,
                 task: str = "dream", thumbnails: str = "activations", page: int = 16, side: int = 72,
                 size: tuple[int, int] = (224, 224), settings: DreamSettings = DREAM,
                 render_settings: RenderSettings = RENDER, seed: int = 0,
                 thumbnail_steps: int = THUMBNAIL_STEPS, device: str | torch.device = "auto"):
        if widgets is None:
            raise ReverieError('the channel picker needs ipywidgets: pip install "reverie[notebook]"')
        if task not in TASKS_RUN or thumbnails not in THUMBNAILS:
            raise ReverieError(f"task is one of {', '.join(TASKS_RUN)} and thumbnails one of "
                               f"{', '.join(THUMBNAILS)}; got {task!r}, {thumbnails!r}")
        self.device = resolve_device(device)
        self.model_argument = model           # passed on as given: a name keeps the recipe replayable
        self.model = model if isinstance(model, nn.Module) else load_model(model, self.device)
        self.image_argument = image
        self.size, self.settings, self.render_settings, self.seed = size, settings, render_settings, seed
        self.page_size, self.side, self.thumbnail_steps = page, side, thumbnail_steps
        self.image = self._photo(image, size)
        self.layers = {info.name: info for info in dreamable_layers(self.model)}
        if not self.layers:
            raise ReverieError("the model has no layer with [C, H, W] output to pick channels from")
        if layer is not None and layer not in self.layers:
            raise ReverieError(f"layer {layer!r} is not one of the model's dreamable layers")
        self.channel: int | None = None
        self.result: Result | None = None
        self._activations: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._rendered: dict[tuple[str, int], torch.Tensor] = {}
        self._build(layer or list(self.layers)[len(self.layers) // 2], task, thumbnails)

    # --- what is chosen --------------------------------------------------------------------------

    @property
    def layer(self) -> str:
        return self.layer_menu.value

    @property
    def objective(self) -> str | None:
        """The chosen channel as objective text, e.g. ``channel(blocks.9, 7)``."""
        return None if self.channel is None else f"channel({quote_name(self.layer)}, {self.channel})"

    def order(self) -> list[int]:
        """The layer's channels in the order the pages show them."""
        count = self.layers[self.layer].channels
        if self.order_menu.value == "most active first":
            _, strength = self._layer_activations()
            return [int(index) for index in torch.argsort(strength, descending=True, stable=True)]
        return list(range(count))

    def page_channels(self) -> list[int]:
        start = self.page * self.page_size
        return self.order()[start:start + self.page_size]

    def select(self, channel: int) -> None:
        """Choose ``channel`` of the current layer (what clicking its thumbnail does)."""
        count = self.layers[self.layer].channels
        if not 0 <= channel < count:
            raise ReverieError(f"{self.layer} has channels 0-{count - 1}, not {channel}")
        self.channel = channel
        self.chosen.value = f"<code>{html.escape(self.objective)}</code>"
        self.run_button.disabled = False
        for button in self._buttons:
            button.button_style = "success" if button.description == str(channel) else ""

    # --- thumbnails ------------------------------------------------------------------------------

    def thumbnails(self, channels: list[int]) -> torch.Tensor:
        """[N, 3, H, W] thumbnails of ``channels`` of the current layer, the kind the toggle says."""
        if self.thumbnail_kind.value == "activations":
            lit, _ = self._layer_activations()
            return lit[channels]
        missing = [c for c in channels if (self.layer, c) not in self._rendered]
        if missing:
            options = {"layer": self.layer, "channels": tuple(missing), "size": (self.side, self.side),
                       "model": self.model, "settings": RenderSettings(steps=self.thumbnail_steps),
                       "seed": self.seed, "device": self.device}
            result = run_shown(TASKS["visualize"].keywords, "thumbnails", True, (), options, publish=self._publish)
            if result.stopped:  # interrupted: show what there is, keep nothing half-made
                return result.images[:, :3]
            for channel, image in zip(missing, result.images, strict=True):
                self._rendered[(self.layer, channel)] = image[:3].unsqueeze(0)
        return torch.cat([self._rendered[(self.layer, c)] for c in channels])

    def _layer_activations(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.layer not in self._activations:
            self._activations[self.layer] = activation_thumbnails(self.model, self.layer,
                                                                  self.image.to(self.device))
        return self._activations[self.layer]

    # --- running ---------------------------------------------------------------------------------

    def run(self) -> Result:
        """Dream (or visualize) the chosen channel with a live preview; the result is kept in ``result``."""
        if self.channel is None:
            raise ReverieError("choose a channel first (click a thumbnail, or picker.select(7))")
        task = self.task_menu.value
        if task == "dream":
            options = {"image": self.image_argument, "settings": self.settings, "size": self.size}
        else:
            options = {"size": self.size, "settings": self.render_settings}
        options.update(objective=self.objective, model=self.model_argument, seed=self.seed, device=self.device)
        self.result = run_shown(TASKS[task].keywords, task, True, (), options, publish=self._publish)
        self.view.value = self.result._repr_html_()
        return self.result

    # --- the widget ------------------------------------------------------------------------------

    def _photo(self, image, size: tuple[int, int]) -> torch.Tensor:
        if isinstance(image, Image.Image):
            image = from_pil(image.convert("RGB"))
        if torch.is_tensor(image):
            return F.interpolate(image[:, :3].float(), size=Size(*size).shape, mode="bilinear", align_corners=False)
        photo, _ = load_start(source_text(image), None, size, self.seed)
        return photo

    def _build(self, layer: str, task: str, thumbnails: str) -> None:
        self.page = 0
        options = [(f"{info.name}  ({info.channels} ch, {info.width}x{info.height})", info.name)
                   for info in self.layers.values()]
        self.layer_menu = widgets.Dropdown(options=options, value=layer, description="layer")
        self.thumbnail_kind = widgets.ToggleButtons(options=THUMBNAILS, value=thumbnails,
                                                    tooltips=["where each channel fires on the photo",
                                                              "what each channel draws (rendered, slower)"])
        self.order_menu = widgets.Dropdown(options=ORDERS, value=ORDERS[0], description="order")
        self.previous_button = widgets.Button(description="◀", layout=widgets.Layout(width="40px"))
        self.next_button = widgets.Button(description="▶", layout=widgets.Layout(width="40px"))
        self.page_label = widgets.Label()
        self.grid = widgets.GridBox(layout=widgets.Layout(
            grid_template_columns=f"repeat(auto-fill, {self.side + 8}px)", grid_gap="4px"))
        self.task_menu = widgets.ToggleButtons(options=TASKS_RUN, value=task)
        self.run_button = widgets.Button(description="Run", button_style="primary", disabled=True, icon="play")
        self.chosen = widgets.HTML("<i>click a channel</i>")
        self.status = widgets.HTML()
        self.view = widgets.HTML()
        self._buttons: list = []

        self.layer_menu.observe(lambda _: self._turn(reset=True), names="value")
        self.thumbnail_kind.observe(lambda _: self._turn(), names="value")
        self.order_menu.observe(lambda _: self._turn(reset=True), names="value")
        self.previous_button.on_click(lambda _: self._turn(step=-1))
        self.next_button.on_click(lambda _: self._turn(step=1))
        self.run_button.on_click(lambda _: self._safely(self.run))
        self.widget = widgets.VBox([
            widgets.HBox([self.layer_menu, self.order_menu]),
            widgets.HBox([self.thumbnail_kind, self.previous_button, self.page_label, self.next_button]),
            self.grid,
            widgets.HBox([self.task_menu, self.run_button, self.chosen]),
            self.status, self.view])
        self._turn(reset=True)

    def _turn(self, step: int = 0, reset: bool = False) -> None:
        """Show a page of thumbnails: the first (``reset``), or ``step`` pages on."""
        count = self.layers[self.layer].channels
        pages = -(-count // self.page_size)
        self.page = 0 if reset else min(max(self.page + step, 0), pages - 1)
        if reset:
            self.channel = None
            self.chosen.value, self.run_button.disabled = "<i>click a channel</i>", True
        channels = self.page_channels()
        self.page_label.value = f"page {self.page + 1}/{pages} · {count} channels"
        self._safely(lambda: self._fill(channels))

    def _fill(self, channels: list[int]) -> None:
        images = self.thumbnails(channels)
        cells, self._buttons = [], []
        for channel, image in zip(channels, images, strict=False):
            picture = shrunk(grid(image.unsqueeze(0)), self.side)
            button = widgets.Button(description=str(channel), layout=widgets.Layout(width=f"{self.side}px"),
                                    button_style="success" if channel == self.channel else "")
            button.on_click(lambda _, channel=channel: self.select(channel))
            self._buttons.append(button)
            cells.append(widgets.VBox([widgets.Image(value=png_bytes(picture), format="png",
                                                     width=picture.width, height=picture.height), button]))
        self.grid.children = cells

    def _publish(self, bundle: dict, update: bool) -> None:
        self.view.value = bundle["text/html"]

    def _safely(self, action) -> None:
        """A widget callback's errors would only reach the browser's log: show a mistake as its one line."""
        self.status.value = ""
        try:
            action()
        except ReverieError as error:
            self.status.value = f"<span style='color:#b00'>{html.escape(str(error))}</span>"

    def _repr_mimebundle_(self, **options):
        return self.widget._repr_mimebundle_(**options)
