"""Objectives: what to maximise. Build them in Python or parse them from expression text."""
from __future__ import annotations

from reverie.objectives.activations import (ChannelObjective, DirectionObjective, LayerObjective, NeuronObjective,
                                            channel, direction, layer, neuron)
from reverie.objectives.alignment import AlignmentObjective, alignment
from reverie.objectives.base import MaskedObjective, Objective, Sum, masked
from reverie.objectives.classes import (ClassLogitObjective, ClassProbabilityObjective, class_logit,
                                        class_probability)
from reverie.objectives.diversity import DiversityObjective, diversity, without_diversity
from reverie.objectives.guide import Guided, guide_features, guided
from reverie.objectives.regularisers import (IMAGE, L1, AlphaPenalty, BlurPenalty, TotalVariation, alpha_penalty,
                                             blur_penalty, l1, total_variation)
from reverie.objectives.text import FUNCTIONS, blend_text, parse_blend, parse_objective
from reverie.objectives.transparency import Transparent, transparent

__all__ = [
    "Objective", "Sum", "parse_objective", "FUNCTIONS", "IMAGE",
    "LayerObjective", "ChannelObjective", "NeuronObjective", "DirectionObjective",
    "ClassLogitObjective", "ClassProbabilityObjective", "DiversityObjective",
    "TotalVariation", "L1", "BlurPenalty", "AlphaPenalty",
    "layer", "channel", "neuron", "direction", "class_logit", "class_probability", "diversity",
    "without_diversity",
    "total_variation", "l1", "blur_penalty", "alpha_penalty", "Transparent", "transparent",
    "AlignmentObjective", "alignment", "MaskedObjective", "masked", "parse_blend", "blend_text",
    "Guided", "guided", "guide_features",
]
