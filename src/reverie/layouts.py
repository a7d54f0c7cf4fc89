"""Token and channels-last activations seen as feature maps [B, C, h, w], so every objective reads them alike.

A vision transformer's block outputs ``[B, tokens, D]``: a few extra tokens (class, distillation,
register tokens: first in the sequence, as in ViT, DeiT and DINOv2) followed by one token per patch,
row by row. A Swin-style block outputs ``[B, h, w, C]``. Both are turned into the ``[B, D, h, w]`` map
a convolution would give, so that ``channel()`` indexes features and spatial objectives (``neuron``,
masks) use the patch grid, extra tokens excluded. The layout is read from the shapes and the input's
size; a model may state it (``ModelSpec.layout``) where the shapes cannot tell.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from reverie.errors import ReverieError

LAYOUTS = ("auto", "nchw", "nhwc", "tokens")
MAX_EXTRA_TOKENS = 16  # class + distillation + register tokens; DINOv2 uses at most 1 + 4
# Set on a loaded model to the layout its ModelSpec states ("auto" when absent).
LAYOUT_ATTRIBUTE = "_reverie_layout"
# Set on a model that takes one input side only (see reverie.models.fixed_input): the grid follows it.
FIXED_SIDE = "_reverie_fixed_side"


@dataclass(frozen=True)
class Layout:
    """How one activation maps to [B, C, h, w]: its kind, the grid, and extra tokens dropped before it."""

    kind: str             # "nchw", "nhwc", "tokens" (a grid of patches) or "sequence" (tokens, no grid)
    height: int
    width: int
    extra_tokens: int = 0

    def describe(self) -> str:
        if self.kind == "tokens":
            return f"tokens+{self.extra_tokens}" if self.extra_tokens else "tokens"
        return self.kind


def _aspect_error(rows: int, cols: int, image_height: int, image_width: int) -> float:
    """How far a rows x cols grid is from the image's aspect ratio (0: the same), in log terms."""
    return abs(math.log((rows / cols) / (image_height / image_width)))


def token_grid(tokens: int, image_height: int, image_width: int, limit: int = MAX_EXTRA_TOKENS
               ) -> tuple[int, int, int] | None:
    """(rows, cols, extra) with rows * cols + extra == ``tokens`` and square patches tiling the image,
    the fewest extra tokens first; None when no such grid exists.

    >>> token_grid(197, 224, 224)   # ViT-B/16: a class token and 14x14 patches
    (14, 14, 1)
    >>> token_grid(196, 224, 224)   # MLP-Mixer: patches only
    (14, 14, 0)
    >>> token_grid(7, 224, 224) is None
    True
    """
    for extra in range(0, min(limit, tokens - 1) + 1):
        patches = tokens - extra
        side = math.sqrt(image_height * image_width / patches)  # the patch side in px
        rows, cols = max(1, round(image_height / side)), max(1, round(image_width / side))
        # Extra tokens are a few beside many patches: 7 tokens are no 2x2 grid plus 3
        if extra <= patches // 2 and rows * cols == patches and \
                _aspect_error(rows, cols, image_height, image_width) < math.log(1.34):
            return rows, cols, extra
    return None


def detect_layout(shape: torch.Size | tuple[int, ...], image_height: int, image_width: int,
                  stated: str = "auto") -> Layout | None:
    """The layout of an activation of ``shape`` for an image_height x image_width input; None for an
    activation with no channels to index (a vector [B, D] or a scalar), which is left as it is.

    ``stated`` ("auto", "nchw", "nhwc", "tokens") is the model's own word where it gave one; "auto"
    reads a 4-D shape as channels-last only when its middle two sizes, and not its last two, follow
    the image's aspect ratio (a [B, 7, 7, 768] Swin output), and a 3-D shape as tokens.
    """
    if len(shape) == 4:
        if stated == "nhwc":
            return Layout("nhwc", shape[1], shape[2])
        if stated == "auto" and shape[3] != shape[2]:
            channels_first = _aspect_error(shape[2], shape[3], image_height, image_width)
            channels_last = _aspect_error(shape[1], shape[2], image_height, image_width)
            if channels_last < min(channels_first, math.log(1.5)):
                return Layout("nhwc", shape[1], shape[2])
        return Layout("nchw", shape[2], shape[3])
    if len(shape) == 3 and stated != "nchw":
        found = token_grid(shape[1], image_height, image_width)
        if found is not None:
            rows, cols, extra = found
            return Layout("tokens", rows, cols, extra)
        return Layout("sequence", shape[1], 1)
    return None


def as_feature_map(activation: torch.Tensor, layout: Layout | None) -> torch.Tensor:
    """``activation`` as [B, C, h, w] (a view or copy that keeps the graph); unchanged for NCHW or None."""
    if layout is None or layout.kind == "nchw":
        return activation
    if layout.kind == "nhwc":
        return activation.permute(0, 3, 1, 2)  # [B, h, w, C] -> [B, C, h, w]
    batch, _, features = activation.shape
    patches = activation[:, layout.extra_tokens:]   # [B, extra + h*w, D] -> [B, h*w, D]
    # [B, h*w, D] -> [B, D, h*w] -> [B, D, h, w] (patches run row by row)
    return patches.transpose(1, 2).reshape(batch, features, layout.height, layout.width)


def feature_map(activation: torch.Tensor, image_height: int, image_width: int, stated: str = "auto",
                layer: str = "") -> torch.Tensor:
    """``activation`` as a feature map [B, C, h, w] by its detected (or ``stated``) layout."""
    if stated not in LAYOUTS:
        raise ReverieError(f"unknown layout '{stated[:40]}' (valid: {', '.join(LAYOUTS)})")
    layout = detect_layout(activation.shape, image_height, image_width, stated)
    if stated == "tokens" and layout is not None and layout.kind == "sequence":
        raise ReverieError(f"layer {layer} has {activation.shape[1]} tokens, which tile no grid of square patches "
                           f"on a {image_width}x{image_height} input (with up to {MAX_EXTRA_TOKENS} extra tokens); "
                           "use --layout auto")
    return as_feature_map(activation, layout)
