"""Spatial masks in [0, 1]: smooth ramps that split an image into bands, and masks read from pictures."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from reverie.errors import ReverieError, unknown_name_message

RAMPS = ("horizontal", "vertical", "radial")
# Width of the smooth transition between neighbouring bands, as a share of the image side (radial:
# of the centre-to-edge distance). A quarter keeps the boundary soft without washing out either band.
DEFAULT_SOFTNESS = 0.25


def _smoothstep(t: torch.Tensor) -> torch.Tensor:
    t = t.clamp(0, 1)
    return t * t * (3 - 2 * t)


def ramp_masks(n: int, height: int, width: int, direction: str = "horizontal",
               softness: float = DEFAULT_SOFTNESS) -> torch.Tensor:
    """``n`` masks [n, 1, H, W] in [0, 1] that sum to 1 at every pixel: band i of n bands.

    ``horizontal``: mask 0 on the left, mask n-1 on the right; ``vertical``: top to bottom;
    ``radial``: mask 0 at the centre, mask n-1 at the edges (elliptical distance, 1 at the edge
    midpoints and beyond). Neighbouring bands meet at their boundary through a smoothstep that is
    ``softness`` wide (a share of the side; 0 gives a hard edge). The first mask falls and the last
    rises monotonically along the ramp.

    >>> masks = ramp_masks(2, 4, 8)
    >>> tuple(masks.shape), bool(torch.allclose(masks.sum(dim=0), torch.ones(1, 4, 8)))
    ((2, 1, 4, 8), True)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ReverieError(f"ramp needs a whole number of bands >= 1, got {n!r}")
    if direction not in RAMPS:
        raise ReverieError(unknown_name_message("blend ramp", direction, RAMPS))
    if not 0 <= softness <= 1:
        raise ReverieError(f"ramp softness must be from 0 to 1, got {softness!r}")
    ys = (torch.arange(height, dtype=torch.float32) + 0.5) / height  # pixel centres in (0, 1)
    xs = (torch.arange(width, dtype=torch.float32) + 0.5) / width
    if direction == "horizontal":
        t = xs.expand(height, width)
    elif direction == "vertical":
        t = ys[:, None].expand(height, width)
    else:
        t = torch.sqrt((2 * xs[None, :] - 1) ** 2 + (2 * ys[:, None] - 1) ** 2).clamp(max=1)
    # rising[k] goes 0 -> 1 across boundary k/n; band i = rising[i] - rising[i+1] (rising[0] = 1,
    # rising[n] = 0), so the bands telescope to a sum of exactly 1 and none is ever negative.
    rising = [torch.ones(height, width)]
    for k in range(1, n):
        boundary = k / n
        if softness == 0:
            rising.append((t >= boundary).float())
        else:
            rising.append(_smoothstep((t - boundary) / softness + 0.5))
    rising.append(torch.zeros(height, width))
    bands = [rising[i] - rising[i + 1] for i in range(n)]
    return torch.stack(bands).unsqueeze(1)  # [n, H, W] -> [n, 1, H, W]


def mask_from_pil(picture: Image.Image) -> torch.Tensor:
    """A picture -> mask [1, 1, H, W] in [0, 1]: its alpha channel if it has one, else its luminance."""
    has_alpha = picture.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in picture.info
    if has_alpha:
        array = np.asarray(picture.convert("RGBA"), dtype=np.float32)[:, :, 3] / 255.0  # [H, W]
    elif picture.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(picture, dtype=np.float32).clip(0, 65535) / 65535.0
    else:
        array = np.asarray(picture.convert("L"), dtype=np.float32) / 255.0
    return torch.from_numpy(array.copy())[None, None]  # [H, W] -> [1, 1, H, W]


def fit_mask(mask: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """``mask`` [B, 1, h, w] resampled to ``shape`` = (height, width), kept in [0, 1].

    Bilinear (antialiased when shrinking), so a zero region stays exactly zero away from its edge.
    """
    if tuple(mask.shape[-2:]) == tuple(shape):
        return mask
    shrinking = shape[0] < mask.shape[-2] or shape[1] < mask.shape[-1]
    return F.interpolate(mask, size=tuple(shape), mode="bilinear", align_corners=False,
                         antialias=shrinking).clamp_(0, 1)


def check_mask(mask: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """``mask`` as floats [B, 1, H, W] in [0, 1] ([H, W] and [1, H, W] are accepted), else a ReverieError."""
    if not torch.is_tensor(mask):
        raise ReverieError(f"expected {name} as a tensor [1, 1, H, W] in [0, 1], got {type(mask).__name__}")
    if mask.ndim == 2:
        mask = mask[None, None]  # [H, W] -> [1, 1, H, W]
    elif mask.ndim == 3 and mask.shape[0] == 1:
        mask = mask[None]  # [1, H, W] -> [1, 1, H, W]
    if mask.ndim != 4 or mask.shape[1] != 1:
        raise ReverieError(f"expected {name} as [B, 1, H, W] (or [H, W]) in [0, 1], got {list(mask.shape)}")
    mask = mask.detach().float()
    if not bool(torch.isfinite(mask).all()) or mask.min() < 0 or mask.max() > 1:
        raise ReverieError(f"{name} values must be in [0, 1]")
    return mask
