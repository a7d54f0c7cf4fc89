"""Objectives: what to maximise. Build them in Python or parse them from expression text."""
from __future__ import annotations

from reverie.objectives.activations import (ChannelObjective, DirectionObjective, LayerObjective, NeuronObjective,
                                            channel, direction, layer, neuron)
from reverie.objectives.base import Objective, Sum
from reverie.objectives.classes import (ClassLogitObjective, ClassProbabilityObjective, class_logit,
                                        class_probability)
from reverie.objectives.diversity import DiversityObjective, diversity
from reverie.objectives.alignment import AlignmentObjective, alignment
from reverie.objectives.transparency import Transparent, transparent
from reverie.objectives.masked import MaskedObjective, blend_text, masked, parse_blend
from reverie.objectives.regularisers import (IMAGE, L1, AlphaPenalty, BlurPenalty, TotalVariation, alpha_penalty,
                                             blur_penalty, l1, total_variation)

# The functions an objective expression may call; nothing else is reachable from text.
# (Class objectives are written ``logit(7)`` and ``probability(7)`` in text.)
FUNCTIONS = {
    "layer": layer, "channel": channel, "neuron": neuron, "direction": direction,
    "logit": class_logit, "probability": class_probability, "diversity": diversity,
    "total_variation": total_variation, "l1": l1, "blur_penalty": blur_penalty, "alpha_penalty": alpha_penalty,
    "transparent": transparent, "alignment": alignment,
}
# masked() is not in FUNCTIONS: its mask is a tensor, which text cannot carry (blends are ``|`` text).

# ``channel(...).masked(mask)``: defined here rather than in base.py so the algebra module needs
# nothing from the masks module.
Objective.masked = masked  # type: ignore[attr-defined]


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


__all__ = [
    "Objective", "Sum", "parse_objective", "FUNCTIONS", "IMAGE",
    "LayerObjective", "ChannelObjective", "NeuronObjective", "DirectionObjective",
    "ClassLogitObjective", "ClassProbabilityObjective", "DiversityObjective",
    "TotalVariation", "L1", "BlurPenalty", "AlphaPenalty",
    "layer", "channel", "neuron", "direction", "class_logit", "class_probability", "diversity",
    "total_variation", "l1", "blur_penalty", "alpha_penalty", "Transparent", "transparent",
    "AlignmentObjective", "alignment", "MaskedObjective", "masked", "parse_blend", "blend_text",
]
