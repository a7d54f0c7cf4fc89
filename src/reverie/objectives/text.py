"""Objectives as expression text: the functions text may call, ``parse_objective``, and blends (``a | b``)."""
from __future__ import annotations

from reverie.errors import ReverieError
from reverie.expressions import Binary, evaluate, parse
from reverie.objectives.activations import channel, direction, layer, neuron
from reverie.objectives.alignment import alignment
from reverie.objectives.base import Objective
from reverie.objectives.classes import class_logit, class_probability
from reverie.objectives.diversity import diversity
from reverie.objectives.regularisers import alpha_penalty, blur_penalty, l1, total_variation
from reverie.objectives.transparency import transparent

# The functions an objective expression may call; nothing else is reachable from text.
# (Class objectives are written ``logit(7)`` and ``probability(7)`` in text.) Objectives without a
# text form (masked, style, content, caricature, CLIP) are not here: see Objective.textual.
FUNCTIONS = {
    "layer": layer, "channel": channel, "neuron": neuron, "direction": direction,
    "logit": class_logit, "probability": class_probability, "diversity": diversity,
    "total_variation": total_variation, "l1": l1, "blur_penalty": blur_penalty, "alpha_penalty": alpha_penalty,
    "transparent": transparent, "alignment": alignment,
}


def parse_objective(text: str) -> Objective:
    """Parse ``"channel(blocks.10, 7) - 0.5*layer(blocks.6)"`` into an Objective (no eval).

    >>> parse_objective("layer(blocks.6) + 0.5*channel(blocks.9, 7)").expression()
    'layer(blocks.6) + 0.5*channel(blocks.9, 7)'
    """
    value = evaluate(parse(text), FUNCTIONS)
    if not isinstance(value, Objective):
        raise ReverieError(f"objective {text!r} is not an objective (got {type(value).__name__})")
    return value


def parse_blend(text: str) -> list[Objective]:
    """``"channel(L, 3) | channel(L, 9)"`` -> the objectives between the top-level ``|`` signs, in order.

    >>> [o.expression() for o in parse_blend("channel(b, 3) | 2*layer(c)")]
    ['channel(b, 3)', '2*layer(c)']
    """
    node = parse(text)
    parts = []
    while isinstance(node, Binary) and node.op == "|":  # '|' is left-associative: peel from the right
        parts.append(node.right)
        node = node.left
    parts.append(node)
    objectives = []
    for part in reversed(parts):
        value = evaluate(part, FUNCTIONS)
        if not isinstance(value, Objective):
            raise ReverieError(f"blend part at position {part.pos} of {text!r} is not an objective "
                               f"(got {type(value).__name__})")
        objectives.append(value)
    if len(objectives) < 2:
        raise ReverieError(f"a blend needs two or more objectives separated by '|', got {text!r}")
    return objectives


def blend_text(objectives: list[Objective]) -> str:
    """The canonical text of a blend: ``a | b | c`` (each part must have a text form)."""
    return " | ".join(objective.expression() for objective in objectives)
