"""Checks that teach: a quick probe of the layers an objective reads, before any long work, for the usual
reasons a user's model dreams nothing (untrained or unloaded weights, the wrong input range, a layer the
gradient cannot pass, a module stuck in training mode). Each finding is one line that says what to do.
"""
from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from reverie.errors import ReverieError, note
from reverie.randomness import generator
from reverie.recorder import OUTPUT, ActivationRecorder

PROBE_SIDE = 64
BARELY = 1e-5       # relative change between two very different images below which a layer "barely changes"
SATURATED = 0.9999  # softmax probability of one class on both probes: the output saturates
_CHECKED = "_reverie_checked_layers"  # on a model: the layers already probed


def note_training_mode(model: nn.Module) -> None:
    """Put ``model`` in eval mode, saying so when it was training, and name a module that stays training."""
    if model.training:
        note("the model was in training mode (dropout and batch-norm statistics would change every step); "
             "Reverie put it in eval mode")
    model.eval()
    stuck = next((name for name, module in model.named_modules() if module.training), None)
    if stuck is not None:
        note(f"module '{stuck or 'the model'}' stays in training mode after model.eval() (does it override "
             f"train()?): its output changes every step; set its .training to False")


def _probes(model: nn.Module) -> torch.Tensor:
    """Two very different images [2, 3, S, S]: flat grey, and seeded noise over the whole [0, 1] range."""
    parameter = next(iter(model.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    noise = torch.rand(1, 3, PROBE_SIDE, PROBE_SIDE, generator=generator(0, "model check"))
    return torch.cat([torch.full_like(noise, 0.5), noise]).to(device)


def check_layers(model: nn.Module, layers: Iterable[str]) -> None:
    """Probe ``layers`` (and ``@output``) on a grey and a noise image: a layer the image cannot reach by
    gradient is a ReverieError; a layer that barely changes, is zero on both, or an output that saturates
    gets a note."""
    done = getattr(model, _CHECKED, None)
    if done is None:
        done = set()
        setattr(model, _CHECKED, done)
    wanted = [name for name in dict.fromkeys(layers) if (not name.startswith("@") or name == OUTPUT)
              and name not in done]  # a contact sheet checks its layer once, not once per channel
    if not wanted:
        return
    # One image at a time: a .pt2 program may have been exported for batches of one
    images = [image[None].requires_grad_(True) for image in _probes(model)]
    with torch.enable_grad(), ActivationRecorder(model, wanted) as recorder:
        probed = [recorder(image) for image in images]
    for name in wanted:
        activation = torch.cat([probed[0][name], probed[1][name]])  # [2, ...]: grey, noise
        what = "the model's output" if name == OUTPUT else f"layer {name}"
        reached = activation.requires_grad and any(
            gradient is not None for gradient in
            torch.autograd.grad(activation.float().sum(), images, allow_unused=True, retain_graph=True))
        if not reached:
            raise ReverieError(f"{what} does not depend differentiably on the image (the model detaches, rounds "
                               "or runs it without gradients): no dream can change it; choose an earlier layer, or "
                               "remove the .detach()/torch.no_grad() from the model's forward")
        first, second = activation[0].detach().float(), activation[1].detach().float()
        scale = max(float(first.abs().max()), float(second.abs().max()))
        if scale == 0:
            note(f"{what} is zero for both a grey and a noise image: it may need another input range "
                 "(--normalize imagenet or inception) or an earlier layer")
        elif float((first - second).abs().max()) <= BARELY * scale:
            note(f"{what} barely changes between a grey and a noise image: are the weights loaded (--weights) "
                 "and the input normalization right (--normalize)?")
        elif name == OUTPUT and activation.ndim == 2 and activation.shape[1] > 1:
            probabilities = activation.detach().float().softmax(dim=1)
            top = probabilities.max(dim=1)
            if bool((top.values > SATURATED).all()) and int(top.indices[0]) == int(top.indices[1]):
                note(f"the model's output saturates (class {int(top.indices[0])} at p > {SATURATED} for a grey "
                     "and a noise image): it may expect another input range (--normalize imagenet or inception)")
    done.update(wanted)
