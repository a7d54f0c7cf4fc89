"""Objectives on the model's output ("@output"): one class's logit or its softmax probability."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from reverie.errors import ReverieError
from reverie.objectives.activations import optional_whole_number, select_batch, whole_number
from reverie.objectives.base import Activations, Objective
from reverie.recorder import OUTPUT


def _output_shape(shape) -> torch.Size:
    if len(shape) < 2:
        raise ReverieError(f"the model's output has shape {list(shape)}: it has no classes (expected [B, classes])")
    return torch.Size(shape)


def class_scores(activations: Activations) -> torch.Tensor:
    """The model's output as logits [B, classes]; a map [B, classes, H, W] is averaged over positions."""
    output = activations[OUTPUT]
    if not torch.is_tensor(output):
        raise ReverieError(f"the model's output is a {type(output).__name__}, not a tensor of class logits")
    _output_shape(output.shape)
    # [B, classes, H, W] -> [B, classes] (a fully convolutional classifier scores every position)
    return output.flatten(2).mean(dim=2) if output.ndim > 2 else output


@dataclass(frozen=True, repr=False)
class _ClassObjective(Objective):
    index: int
    batch: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "index", whole_number(self.index, "class index"))
        object.__setattr__(self, "batch", optional_whole_number(self.batch, "batch"))

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return (OUTPUT,)

    def check(self, shapes: Mapping[str, torch.Size]) -> None:
        if OUTPUT not in shapes:
            raise ReverieError(f"{self.label()} needs the model's output, which was not recorded")
        classes = _output_shape(shapes[OUTPUT])[1]
        if self.index >= classes:
            raise ReverieError(f"class {self.index} is out of range for the model's output (valid: 0-{classes - 1})")


class ClassLogitObjective(_ClassObjective):
    """The logit of class ``index`` (mean over the batch, or of item ``batch``); text ``logit(index)``."""

    NAME = "logit"

    def score(self, activations: Activations) -> torch.Tensor:
        return select_batch(class_scores(activations), self.batch, self)[:, self.index].mean()


class ClassProbabilityObjective(_ClassObjective):
    """The softmax probability of class ``index``; text ``probability(index)``. Unlike the logit it
    also rises by pushing the other classes down."""

    NAME = "probability"

    def score(self, activations: Activations) -> torch.Tensor:
        logits = select_batch(class_scores(activations), self.batch, self)
        return logits.softmax(dim=1)[:, self.index].mean()


def class_logit(index: int, batch: int | None = None) -> ClassLogitObjective:
    """Maximise the model's logit for class ``index``."""
    return ClassLogitObjective(index, batch)


def class_probability(index: int, batch: int | None = None) -> ClassProbabilityObjective:
    """Maximise the model's softmax probability for class ``index``."""
    return ClassProbabilityObjective(index, batch)
