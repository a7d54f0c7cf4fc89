"""Diversity: how different a batch's images are, and how strong each stays, for diversity settings.

Renders ``channel(LAYER, CHANNEL)`` at batch 4 without diversity, then with each variant given as
``--variant NAME=OBJECTIVE_SUFFIX[@FRACTION]`` (FRACTION: the recipe's ``diversity_steps``), and prints
for each: every image's channel activation relative to the no-diversity batch's mean (min and mean),
the mean pairwise difference (1 - cosine of Gram matrices at ``--style-layer``; mean absolute difference
of 16x16 downscaled pixels), mean HSV saturation and luminance contrast (std).
"""
from __future__ import annotations

import argparse
import itertools
import os
import time

import torch
import torch.nn.functional as F

import reverie
from reverie.engine.optimize import RenderSettings
from reverie.recorder import ActivationRecorder


def pairwise_gram_difference(activation: torch.Tensor) -> float:
    count, channels = activation.shape[:2]
    flat = activation.reshape(count, channels, -1)
    grams = F.normalize((flat @ flat.transpose(1, 2)).reshape(count, -1), dim=1)
    cos = grams @ grams.T
    return float(1 - (cos.sum() - cos.diagonal().sum()) / (count * (count - 1)))


def pairwise_pixel_difference(images: torch.Tensor) -> float:
    small = F.interpolate(images[:, :3], size=(16, 16), mode="area")
    pairs = list(itertools.combinations(range(images.shape[0]), 2))
    return sum(float((small[i] - small[j]).abs().mean()) for i, j in pairs) / len(pairs)


def saturation(images: torch.Tensor) -> float:
    top, bottom = images[:, :3].amax(1), images[:, :3].amin(1)
    return float(((top - bottom) / top.clamp_min(1e-6)).mean())


def contrast(images: torch.Tensor) -> float:
    luminance = (images[:, :3] * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1)
    return float(luminance.flatten(1).std(1).mean())


def measure(model, images, layer, channel, style_layer):
    with torch.no_grad(), ActivationRecorder(model, [layer, style_layer]) as recorder:
        activations = recorder(images[:, :3])
    strength = activations[layer][:, channel].mean((1, 2))
    return strength, pairwise_gram_difference(activations[style_layer]), pairwise_pixel_difference(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="blocks.9")
    parser.add_argument("--channel", type=int, default=7)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--style-layer", default="blocks.2")
    parser.add_argument("--variant", action="append", default=[], help="NAME=+ 30*diversity(blocks.9)[@0.5]")
    parser.add_argument("--save", default="", help="folder for each variant's batch as a PNG")
    args = parser.parse_args()
    print(f"torch threads {torch.get_num_threads()}, load {os.getloadavg()[0]:.2f}, "
          f"{args.size}px, {args.steps} steps, batch 4, channel({args.layer}, {args.channel})")
    model = reverie.load_model("efficientnet-lite0")
    base = f"channel({args.layer}, {args.channel})"
    variants = [("none", "", None)]
    for text in args.variant:
        name, rest = text.split("=", 1)
        suffix, _, fraction = rest.partition("@")
        variants.append((name, suffix, float(fraction) if fraction else None))
    reference = None
    for name, suffix, fraction in variants:
        recipe = reverie.VisualizeRecipe(objective=base + (" " + suffix if suffix else ""), batch=4,
                                         size=(args.size, args.size), seed=args.seed,
                                         settings=RenderSettings(steps=args.steps))
        if fraction is not None:
            recipe = reverie.VisualizeRecipe(**{**recipe.__dict__, "diversity_steps": fraction})
        start = time.perf_counter()
        result = reverie.run(recipe, model=model, device="cpu")
        seconds = time.perf_counter() - start
        images = result.images
        strength, gram, pixel = measure(model, images, args.layer, args.channel, args.style_layer)
        if reference is None:
            reference = float(strength.mean())
        relative = strength / reference
        print(f"{name:>14}: activation min {float(relative.min()):.2f} mean {float(relative.mean()):.2f}  "
              f"gram-diff {gram:.3f}  pixel-diff {pixel:.3f}  saturation {saturation(images):.2f}  "
              f"contrast {contrast(images):.3f}  ({seconds:.0f} s)  {recipe.objective}"
              + (f" @{fraction}" if fraction is not None else ""), flush=True)
        if args.save:
            result.save(os.path.join(args.save, f"{name}.png"))


if __name__ == "__main__":
    main()
