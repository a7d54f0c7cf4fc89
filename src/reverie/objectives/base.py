"""The Objective type: a score to maximise, the layers it reads, and its algebra (+, -, scalar *)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

Activations = Mapping[str, torch.Tensor]


class Objective:
    """Something to maximise, computed from recorded activations.

    Subclasses set ``layers`` (the layer names they read) and implement ``score`` and
    ``expression``. Objectives combine like numbers::

        channel("blocks.10", 7) - 0.5 * channel("blocks.10", 12)

    The minus sign that turns a score into a loss lives in the optimisation loop, not here.
    """

    layers: tuple[str, ...] = ()

    def score(self, activations: Activations) -> torch.Tensor:
        """A scalar tensor; higher is better."""
        raise NotImplementedError

    def expression(self) -> str:
        """The objective written in Reverie's expression syntax; parsing it gives it back."""
        raise NotImplementedError

    def check(self, shapes: Mapping[str, torch.Size]) -> None:
        """Raise ReverieError if the objective cannot apply to activations of these shapes."""

    def __call__(self, activations: Activations) -> torch.Tensor:
        return self.score(activations)

    def __add__(self, other: Objective) -> Objective:
        if not isinstance(other, Objective):
            return NotImplemented
        return Sum(_terms(self) + _terms(other))

    def __sub__(self, other: Objective) -> Objective:
        if not isinstance(other, Objective):
            return NotImplemented
        return Sum(_terms(self) + _terms(-1.0 * other))

    def __mul__(self, factor: float) -> Objective:
        if isinstance(factor, Objective) or not isinstance(factor, (int, float)):
            return NotImplemented
        return Sum(tuple((weight * factor, term) for weight, term in _terms(self)))

    __rmul__ = __mul__

    def __truediv__(self, divisor: float) -> Objective:
        if not isinstance(divisor, (int, float)):
            return NotImplemented
        return self * (1.0 / divisor)

    def __neg__(self) -> Objective:
        return -1.0 * self

    def __repr__(self) -> str:
        return f"<Objective {self.expression()}>"


def format_weight(weight: float) -> str:
    """The shortest text that reads back as exactly ``weight``: ``0.5``, ``2``, ``0.123456789``, ``1e-05``.

    ``repr`` of a float round-trips; a whole number drops its ``.0`` (``2*layer(a)``).
    """
    text = repr(float(weight))
    return text[:-2] if text.endswith(".0") else text


def _terms(objective: Objective) -> tuple[tuple[float, Objective], ...]:
    return objective.terms if isinstance(objective, Sum) else ((1.0, objective),)


@dataclass(frozen=True, repr=False)
class Sum(Objective):
    """A weighted sum of objectives; what ``+``, ``-`` and ``*`` build."""

    terms: tuple[tuple[float, Objective], ...]

    @property
    def layers(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(dict.fromkeys(layer for _, term in self.terms for layer in term.layers))

    def score(self, activations: Activations) -> torch.Tensor:
        return sum(weight * term.score(activations) for weight, term in self.terms)

    def check(self, shapes: Mapping[str, torch.Size]) -> None:
        for _, term in self.terms:
            term.check(shapes)

    def expression(self) -> str:
        parts = []
        for weight, term in self.terms:
            sign = "-" if weight < 0 else "+"
            size = abs(weight)
            text = term.expression() if size == 1 else f"{format_weight(size)}*{term.expression()}"
            parts.append((sign, text))
        first_sign, first = parts[0]
        head = ("-" if first_sign == "-" else "") + first
        return " ".join([head] + [f"{sign} {text}" for sign, text in parts[1:]])
