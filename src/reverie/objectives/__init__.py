"""Objectives: what to maximise. Build them in Python or parse them from expression text."""
from __future__ import annotations

from reverie.objectives.activations import ChannelObjective, LayerObjective, channel, layer
from reverie.objectives.base import Objective, Sum

# The functions an objective expression may call; nothing else is reachable from text.
FUNCTIONS = {"layer": layer, "channel": channel}


def parse_objective(text: str) -> Objective:
    """Parse ``"channel(blocks.10, 7) - 0.5*layer(blocks.6)"`` into an Objective (no eval).

    >>> parse_objective("layer(blocks.6) + 0.5*channel(blocks.9, 7)").expression()
    'layer(blocks.6) + 0.5*channel(blocks.9, 7)'
    """
    from reverie.errors import ReverieError
    from reverie.expressions import evaluate, parse

    value = evaluate(parse(text), FUNCTIONS)
    if not isinstance(value, Objective):
        raise ReverieError(f"objective {text!r} is not an objective (got {type(value).__name__})")
    return value


__all__ = ["Objective", "Sum", "LayerObjective", "ChannelObjective", "layer", "channel", "parse_objective", "FUNCTIONS"]
