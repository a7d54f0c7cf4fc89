"""The Objective type: a score to maximise, the layers it reads, its text form, and its algebra (+, -, *, masked)."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import torch

from reverie.errors import ReverieError
from reverie.expressions import Expressible, format_number
from reverie.masks import check_mask
from reverie.objectives.masked import MaskedActivations

Activations = Mapping[str, torch.Tensor]

# The name cli/common.py imports; the one number formatter is reverie.expressions.format_number.
format_weight = format_number


class Objective(Expressible):
    """Something to maximise, computed from recorded activations.

    Subclasses set ``layers`` (the layer names they read) and implement ``score``. Objectives
    combine like numbers, and can be counted only where a mask is on::

        channel("blocks.10", 7) - 0.5 * channel("blocks.10", 12)
        channel("blocks.10", 7).masked(mask)

    The minus sign that turns a score into a loss lives in the optimisation loop, not here.

    Text form. An objective whose ``textual`` is true writes itself as expression text with
    ``expression()``, and parsing that text gives an equal objective back
    (``parse_objective(o.expression()) == o``); most subclasses are frozen dataclasses that get
    ``expression()`` from their fields (:class:`~reverie.expressions.Expressible`). An objective
    that text cannot carry (a tensor mask, style targets, a live CLIP model) or that text does not
    offer (caricature) sets ``textual = False``: its ``expression()`` raises ReverieError, and a
    recipe stores it through its own fields (``text``, ``blend``, style layers). A sum or wrapper is
    textual when everything inside it is. ``label()`` always works, giving the expression or a
    description that no parser reads; ``repr`` shows it.
    """

    layers: tuple[str, ...] = ()
    textual: ClassVar[bool] = True

    def score(self, activations: Activations) -> torch.Tensor:
        """A scalar tensor; higher is better."""
        raise NotImplementedError

    def expression(self) -> str:
        """The objective as expression text that parses back to an equal objective.

        Raises ReverieError for an objective without a text form (``textual`` false).
        """
        if not self.textual:
            raise ReverieError(f"{self.label()} has no text form; it is stored through the recipe's own fields")
        return self.call_text()

    def label(self) -> str:
        """The objective for people: its expression, or a description when it has no text form."""
        return self.expression() if self.textual else self.call_text()

    def check(self, shapes: Mapping[str, torch.Size]) -> None:
        """Raise ReverieError if the objective cannot apply to activations of these shapes."""

    def masked(self, mask: torch.Tensor) -> MaskedObjective:
        """This objective counted only where ``mask`` [1 or B, 1, H, W] (or [H, W]) in [0, 1] is on."""
        return MaskedObjective(self, mask)

    def __call__(self, activations: Activations) -> torch.Tensor:
        return self.score(activations)

    def __add__(self, other: Objective) -> Objective:
        if not isinstance(other, Objective):
            return NotImplemented
        return _sum(_terms(self) + _terms(other))

    def __sub__(self, other: Objective) -> Objective:
        if not isinstance(other, Objective):
            return NotImplemented
        return _sum(_terms(self) + _terms(-1.0 * other))

    def __mul__(self, factor: float) -> Objective:
        if isinstance(factor, (bool, Objective)) or not isinstance(factor, (int, float)):
            return NotImplemented
        terms = tuple((weight * factor, term) for weight, term in _terms(self))
        if not all(math.isfinite(weight) for weight, _ in terms):
            raise ReverieError(f"weight {factor!r} times {self.label()} is not a finite number")
        return _sum(terms)

    __rmul__ = __mul__

    def __truediv__(self, divisor: float) -> Objective:
        if isinstance(divisor, bool) or not isinstance(divisor, (int, float)):
            return NotImplemented
        if divisor == 0:
            raise ReverieError(f"cannot divide {self.label()} by zero")
        return self * (1.0 / divisor)

    def __neg__(self) -> Objective:
        return -1.0 * self

    def __repr__(self) -> str:
        try:
            return f"<Objective {self.label()}>"
        except (ReverieError, NotImplementedError):  # a subclass that writes no text at all
            return f"<Objective {type(self).__name__}>"


def _terms(objective: Objective) -> tuple[tuple[float, Objective], ...]:
    return objective.terms if isinstance(objective, Sum) else ((1.0, objective),)


def _sum(terms: tuple[tuple[float, Objective], ...]) -> Objective:
    """A Sum of ``terms``, or the lone term itself when its weight is 1 (``layer(a) * 1`` is ``layer(a)``)."""
    if len(terms) == 1 and terms[0][0] == 1:
        return terms[0][1]
    return Sum(terms)


@dataclass(frozen=True, repr=False)
class Sum(Objective):
    """A weighted sum of objectives; what ``+``, ``-`` and ``*`` build. Nested sums are flattened."""

    terms: tuple[tuple[float, Objective], ...]

    def __post_init__(self):
        flat = tuple((weight * inner, term) for weight, objective in self.terms
                     for inner, term in _terms(objective))
        if not flat:
            raise ReverieError("a sum of objectives needs at least one term")
        object.__setattr__(self, "terms", flat)

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(dict.fromkeys(layer for _, term in self.terms for layer in term.layers))

    @property
    def textual(self) -> bool:  # type: ignore[override]
        return all(term.textual for _, term in self.terms)

    def score(self, activations: Activations) -> torch.Tensor:
        return sum(weight * term.score(activations) for weight, term in self.terms)

    def check(self, shapes: Mapping[str, torch.Size]) -> None:
        for _, term in self.terms:
            term.check(shapes)

    def expression(self) -> str:
        if not self.textual:
            return super().expression()  # raises, naming the sum
        return self._write(lambda term: term.expression())

    def label(self) -> str:
        return self._write(lambda term: term.label())

    def _write(self, write: Callable[[Objective], str]) -> str:
        """``a - 0.5*b + 2*c``, each term written by ``write``; weights of 1 are left out."""
        parts = []
        for weight, term in self.terms:
            size = abs(weight)
            text = write(term) if size == 1 else f"{format_number(size)}*{write(term)}"
            parts.append(("-" if weight < 0 else "+", text))
        first_sign, first = parts[0]
        head = ("-" if first_sign == "-" else "") + first
        return " ".join([head] + [f"{sign} {text}" for sign, text in parts[1:]])


@dataclass(frozen=True, repr=False, eq=False)
class MaskedObjective(Objective):
    """``objective`` scored on activations multiplied by ``mask`` [1 or B, 1, H, W] in [0, 1].

    The mask is drawn in image coordinates and resampled (bilinear) to each activation map's size;
    every map the inner objective reads is multiplied by it before the inner objective sees it. The
    mask is not renormalised, so a mask of ones gives exactly the unmasked objective, and a mask
    covering a quarter of the image gives, for the linear objectives (channel, neuron, direction),
    a quarter of the mean activation inside it. ``layer()`` squares its activations, so a soft mask
    weighs it by mask²; a 0/1 mask is the same either way.

    The mask is fixed to the image the model sees. Robustness transforms move the image by a few
    pixels, which only softens the mask's edge; for dreams (jittered and tiled) mask the pixel
    update instead: ``deep_dream(..., mask=...)``. No text form (the mask is a tensor): recipes keep
    masks as files and blends as ``|`` text. Equal when the objectives and the masks' values are.
    """

    objective: Objective
    mask: torch.Tensor

    textual: ClassVar[bool] = False

    def __post_init__(self):
        if not isinstance(self.objective, Objective):
            raise ReverieError(f"masked() takes an objective, got {self.objective!r}")
        object.__setattr__(self, "mask", check_mask(self.mask))

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.objective.layers

    def check(self, shapes: Mapping[str, torch.Size]) -> None:
        self.objective.check(shapes)
        for name in self.layers:
            if name in shapes and len(shapes[name]) != 4:
                raise ReverieError(f"masked() needs layers with a spatial map [B, C, H, W]; {name} has shape "
                                   f"{list(shapes[name])}")

    def score(self, activations: Activations) -> torch.Tensor:
        return self.objective.score(MaskedActivations(activations, self.mask, self.layers, self.label))

    def label(self) -> str:
        height, width = self.mask.shape[-2:]
        return f"masked({self.objective.label()}, mask {width}x{height})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MaskedObjective):
            return NotImplemented
        return self.objective == other.objective and self.mask.shape == other.mask.shape \
            and torch.equal(self.mask, other.mask.to(self.mask.device))

    def __hash__(self) -> int:
        return hash((self.objective, tuple(self.mask.shape)))  # equal masks have equal shapes


def masked(objective: Objective, mask: torch.Tensor) -> MaskedObjective:
    """``objective`` counted only where ``mask`` [1, 1, H, W] (or [H, W]) in [0, 1] is on, weighted by it."""
    return MaskedObjective(objective, mask)
