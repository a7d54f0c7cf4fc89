"""Objectives on one layer's activations: the whole layer, some channels, one neuron, or a direction."""
from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from reverie.errors import ReverieError
from reverie.expressions import format_number, quote_name, quote_string
from reverie.objectives.base import Activations, Objective

# --- helpers shared by every objective that reads activations ------------------------------------

def whole_number(value, what: str) -> int:
    """``value`` as an int >= 0 (7.0 from expression text counts as 7), else a ReverieError."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ReverieError(f"{what} must be a whole number >= 0, got {value!r}")
    return value


def optional_whole_number(value, what: str) -> int | None:
    return None if value is None else whole_number(value, what)


def batch_text(batch: int | None) -> str:
    """The ``, batch=N`` suffix of an expression, written only when a batch item is targeted."""
    return "" if batch is None else f", batch={batch}"


def select_batch(activation: torch.Tensor, batch: int | None, objective: Objective) -> torch.Tensor:
    """``activation`` [B, ...] narrowed to item ``batch`` ([1, ...]), or all of it when ``batch`` is None.

    Checked here rather than in ``check``: shapes are probed with a batch of one, so only the real
    activations know how many items the batch has.
    """
    if batch is None:
        return activation
    count = activation.shape[0]
    if batch >= count:
        raise ReverieError(
            f"batch {batch} is out of range in {objective.label()}: "
            f"the batch has {count} image{'s' if count != 1 else ''} (valid: 0-{count - 1})"
        )
    return activation[batch:batch + 1]


def channel_count(layer: str, shape: torch.Size) -> int:
    """The channel count C of an activation shape [B, C, ...], or a ReverieError if it has none."""
    if len(shape) < 2:
        raise ReverieError(f"layer {layer} has output shape {list(shape)}: it has no channels")
    return shape[1]


def check_channel(layer: str, index: int, shape: torch.Size) -> None:
    count = channel_count(layer, shape)
    if not 0 <= index < count:
        raise ReverieError(f"channel {index} is out of range for layer {layer} (valid: 0-{count - 1})")


# --- the objectives ------------------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class LayerObjective(Objective):
    """Mean squared activation of a layer: the DeepDream objective, which amplifies whatever the
    layer already sees."""

    NAME = "layer"
    NAMES = ("layer",)
    layer: str
    batch: int | None = None  # one batch item, or None for the mean over the batch

    def __post_init__(self):
        object.__setattr__(self, "batch", optional_whole_number(self.batch, "batch"))

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.layer,)

    def score(self, activations: Activations) -> torch.Tensor:
        return select_batch(activations[self.layer], self.batch, self).pow(2).mean()


@dataclass(frozen=True, repr=False)
class ChannelObjective(Objective):
    """Mean activation of one or more channels of a layer [B, C, H, W] (averaged over the channels)."""

    layer: str
    indices: tuple[int, ...]
    batch: int | None = None

    def __post_init__(self):
        if not self.indices:
            raise ReverieError(f"channel({self.layer}) needs at least one channel index")
        for index in self.indices:
            if isinstance(index, bool) or not isinstance(index, int):
                raise ReverieError(f"channel index must be a whole number, got {index!r}")
        object.__setattr__(self, "batch", optional_whole_number(self.batch, "batch"))

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.layer,)

    def check(self, shapes: Mapping[str, torch.Size]) -> None:
        for index in self.indices:
            check_channel(self.layer, index, shapes[self.layer])

    def score(self, activations: Activations) -> torch.Tensor:
        return select_batch(activations[self.layer], self.batch, self)[:, list(self.indices)].mean()

    def call_text(self) -> str:
        return f"channel({quote_name(self.layer)}, {', '.join(map(str, self.indices))}{batch_text(self.batch)})"


@dataclass(frozen=True, repr=False)
class NeuronObjective(Objective):
    """Activation of channel ``index`` at one position (x, y) of a layer's map [B, C, H, W].

    ``x``/``y`` default to the centre (W // 2, H // 2). They are checked when scoring, because the
    map's size follows the image size, which the shapes given to ``check`` may not share.
    """

    NAME = "neuron"
    NAMES = ("layer",)
    layer: str
    index: int
    x: int | None = None
    y: int | None = None
    batch: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "index", whole_number(self.index, "neuron channel index"))
        for name in ("x", "y", "batch"):
            object.__setattr__(self, name, optional_whole_number(getattr(self, name), f"neuron {name}"))

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.layer,)

    def check(self, shapes: Mapping[str, torch.Size]) -> None:
        shape = shapes[self.layer]
        if len(shape) != 4:
            raise ReverieError(
                f"neuron() needs a layer with a spatial map [B, C, H, W]; layer {self.layer} has shape {list(shape)}"
            )
        check_channel(self.layer, self.index, shape)

    def score(self, activations: Activations) -> torch.Tensor:
        activation = select_batch(activations[self.layer], self.batch, self)
        height, width = activation.shape[-2:]
        x = width // 2 if self.x is None else self.x
        y = height // 2 if self.y is None else self.y
        if x >= width or y >= height:
            raise ReverieError(
                f"position x={x}, y={y} is outside layer {self.layer}'s {width}x{height} map at this "
                f"image size in {self.label()} (valid: x 0-{width - 1}, y 0-{height - 1})"
            )
        return activation[:, self.index, y, x].mean()


def _float32(value: float) -> float:
    """``value`` rounded to float32, the precision the score is computed in."""
    return struct.unpack("f", struct.pack("f", value))[0]


def _vector(value) -> tuple[float, ...]:
    """A direction from ``"0.1,-2,3e-2"`` text, a 1-D tensor or array, or a sequence of numbers."""
    if isinstance(value, str):
        try:
            numbers = [float(part) for part in value.split(",")]
        except ValueError:
            raise ReverieError(f"direction vector must be comma-separated numbers, got {value[:40]!r}") from None
    else:
        if torch.is_tensor(value) and value.ndim != 1:
            raise ReverieError(f"direction vector must be 1-D [C], got shape {list(value.shape)}")
        numbers = value.tolist() if hasattr(value, "tolist") else value
        try:
            numbers = list(numbers)
        except TypeError:
            raise ReverieError(
                f"direction vector must be a sequence of numbers or text like \"0.1,0.2\", got {value!r}"
            ) from None
        for number in numbers:
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                raise ReverieError(f"direction vector must hold numbers, got {number!r}")
    if not numbers:
        raise ReverieError("direction vector is empty")
    try:
        vector = tuple(_float32(float(number)) for number in numbers)
    except OverflowError:
        vector = (math.inf,)
    if not all(math.isfinite(number) for number in vector):
        raise ReverieError("direction vector must hold finite float32 numbers")
    if not any(vector):
        raise ReverieError("direction vector is all zeros: it has no direction")
    return vector


@dataclass(frozen=True, repr=False)
class DirectionObjective(Objective):
    """Mean over positions of the dot product between a layer's channel vector [C] at each position
    and the unit vector along ``vector`` (Lucid's ``direction``; not a cosine, so stronger activation
    along the direction scores higher). A one-hot ``vector`` gives that channel's mean activation.

    >>> direction("blocks.9", [0.5, 0, -2]).expression()
    'direction(blocks.9, "0.5,0,-2")'
    """

    layer: str
    vector: tuple[float, ...]  # length C; kept as given (in float32), normalised when scoring
    batch: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "vector", _vector(self.vector))
        object.__setattr__(self, "batch", optional_whole_number(self.batch, "batch"))

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return (self.layer,)

    def _check_length(self, shape: torch.Size) -> int:
        channels = channel_count(self.layer, shape)
        if len(self.vector) != channels:
            raise ReverieError(
                f"direction has {len(self.vector)} values but layer {self.layer} has {channels} channels"
            )
        return channels

    def check(self, shapes: Mapping[str, torch.Size]) -> None:
        self._check_length(shapes[self.layer])

    def score(self, activations: Activations) -> torch.Tensor:
        activation = select_batch(activations[self.layer], self.batch, self)
        channels = self._check_length(activation.shape)
        unit = torch.tensor(self.vector, dtype=activation.dtype, device=activation.device)
        unit = unit / unit.norm()
        # [C] -> [1, C, 1, 1] (one trailing 1 per position axis), so it broadcasts over [B, C, H, W]
        unit = unit.view(1, channels, *([1] * (activation.ndim - 2)))
        return (activation * unit).sum(dim=1).mean()

    def call_text(self) -> str:
        numbers = quote_string(",".join(format_number(number, float32=True) for number in self.vector))
        return f"direction({quote_name(self.layer)}, {numbers}{batch_text(self.batch)})"


def layer(name: str, batch: int | None = None) -> LayerObjective:
    """Maximise the mean squared activation of layer ``name`` (of batch item ``batch``, if given)."""
    return LayerObjective(str(name), batch)


def channel(name: str, *indices: int, batch: int | None = None) -> ChannelObjective:
    """Maximise the mean activation of channel(s) ``indices`` of layer ``name``."""
    return ChannelObjective(str(name), tuple(int(i) if isinstance(i, float) and i.is_integer() else i for i in indices),
                            batch)


def neuron(name: str, index: int, x: int | None = None, y: int | None = None,
           batch: int | None = None) -> NeuronObjective:
    """Maximise channel ``index`` of layer ``name`` at position (x, y), by default the map's centre."""
    return NeuronObjective(str(name), index, x, y, batch)


def direction(name: str, vector, batch: int | None = None) -> DirectionObjective:
    """Maximise layer ``name``'s activation along ``vector`` (length C: text ``"0.1,0.2"``, a tensor
    or a sequence), as the mean dot product with the unit vector."""
    return DirectionObjective(str(name), vector, batch)
