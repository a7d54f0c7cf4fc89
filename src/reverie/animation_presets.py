"""Named animation presets: the frame transforms (and frame count) of the effects the seed blog showed.

A preset only fills in ``reverie animate`` options the user did not give (``-t``, ``--frames``), so
``--preset sobel-life --frames 50`` is the Sobel effect for 50 frames. The recipe stores the
resulting transforms, not the preset's name, so a replay never depends on this table. No torch here:
``reverie animate --help`` lists the presets without loading it.
"""
from __future__ import annotations

from dataclasses import dataclass

from reverie.errors import ReverieError, unknown_name_message


@dataclass(frozen=True)
class Preset:
    """One effect: what it looks like, its frame transforms, and how many frames show it."""

    name: str
    summary: str
    transforms: tuple[str, ...]
    frames: int


PRESETS = {preset.name: preset for preset in (
    # The original DeepDream notebook's zoom: 5 % about the centre per frame, 100 frames.
    Preset("zoom-loop", "the DeepDream notebook's zoom, 5% a frame, inventing new things as it goes",
           ("zoom(0.05)",), 100),
    # Edge maps fed back into the dream, anchored so they keep evolving "like Conway's Game of Life".
    Preset("sobel-life", "Sobel edges fed back each frame, half blended back and held to the first image's colours",
           ("sobel(mix=0.5, match=1)",), 300),
    Preset("prewitt-life", "Prewitt edges giving the brightness, the frame keeping its colour",
           ('prewitt(keep="colour", mix=0.5, match=1)',), 300),
    # A 1 % vertical stretch per frame pours the dream out of the top and bottom; the blog's ran 1200 frames.
    Preset("vertical-stretch", "a 1% vertical stretch a frame, colours held to the first image's",
           ("stretch(0.01, axis=1)", "colour_match(0.5)"), 1200),
    Preset("sine-roll", "columns rolled by a sine wave each frame, so the picture shears in waves",
           ("roll(axis=1, shift=sin(amplitude=3, period=64))",), 200),
    Preset("random-shift", "every column shifted by a random -2..2 pixels each frame, a shivering drift",
           ("random_shift(axis=1, low=-2, high=2)",), 200),
    # The seed's "replace the FFT noise with Perlin noise" as motion, and its "noise for interpolation of
    # a single image": every frame mostly the first image again, dreamed through smoothly drifting noise.
    Preset("perlin-warp", "pixels drifting along a slowly changing Perlin flow, colours held to the first image's",
           ("perlin_warp(2, scale=64, speed=0.03)", "colour_match(0.3)"), 200),
    Preset("perlin-morph", "one image dreamed again each frame through smoothly drifting Perlin noise",
           ("blend(0.7)", "perlin_noise(0.15, scale=48, speed=0.04)"), 100),
    Preset("kaleidoscope", "a slow zoom folded into a six-fold kaleidoscope that turns",
           ("zoom(0.02)", 'kaleidoscope(6, angle=keys("0:0, 100:60"))'), 100),
)}


def preset(name: str) -> Preset:
    """The preset called ``name``; an unknown name is a ReverieError naming the nearest."""
    if name not in PRESETS:
        raise ReverieError(unknown_name_message("preset", name, PRESETS))
    return PRESETS[name]


def presets_help() -> str:
    """One line per preset, for ``--help``."""
    return "; ".join(f"{item.name} ({', '.join(item.transforms)}; {item.frames} frames)" for item in PRESETS.values())


__all__ = ["Preset", "PRESETS", "preset", "presets_help"]
