"""ImageNet colour decorrelation and the sigmoid squash that turn raw parameters into valid colours."""
from __future__ import annotations

import torch

from reverie.errors import ReverieError

# Square root of the colour covariance of ImageNet pixels (rows: R, G, B; columns: the
# decorrelated components, strongest first). Optimising in the decorrelated space gives every
# component a comparable step size instead of letting luminance dominate.
_SQRT_COLOUR_COVARIANCE = torch.tensor([[0.26, 0.09, 0.02],
                                       [0.27, 0.00, -0.05],
                                       [0.27, -0.09, 0.03]])
# Divided by the largest column norm so one unit of the strongest component is one unit of colour.
COLOUR_CORRELATION = _SQRT_COLOUR_COVARIANCE / _SQRT_COLOUR_COVARIANCE.norm(dim=0).max()
# Its inverse, for starting a param from a given image.
_COLOUR_DECORRELATION = torch.linalg.inv(COLOUR_CORRELATION.double()).float()

# init images are clamped to [EPSILON, 1 - EPSILON] before the inverse sigmoid, so pure black or
# white pixels map to finite values (where the sigmoid's slope is about EPSILON).
EPSILON = 1e-3


def _check_rgb(t: torch.Tensor, name: str) -> None:
    if not (torch.is_tensor(t) and t.ndim == 4 and t.shape[1] == 3 and t.is_floating_point()):
        got = list(t.shape) if torch.is_tensor(t) else type(t).__name__
        raise ReverieError(f"expected {name} as floats [B, 3, H, W], got {got}")


def _mix(matrix: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    # out[b, i, h, w] = sum_j matrix[i, j] * t[b, j, h, w]
    return torch.einsum("ij,bjhw->bihw", matrix.to(t), t)


def to_rgb(t: torch.Tensor) -> torch.Tensor:
    """Decorrelated colour components [B, 3, H, W] -> correlated RGB [B, 3, H, W] (linear, by COLOUR_CORRELATION).

    >>> to_rgb(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)).flatten().tolist()  # doctest: +ELLIPSIS
    [0.56..., 0.58..., 0.58...]
    """
    _check_rgb(t, "decorrelated colour")
    return _mix(COLOUR_CORRELATION, t)


# Lucid's name for the same map: the param lives in the decorrelated space and this brings it to RGB.
decorrelate = to_rgb


def from_rgb(rgb: torch.Tensor) -> torch.Tensor:
    """RGB [B, 3, H, W] -> decorrelated colour components [B, 3, H, W]; the inverse of :func:`to_rgb`."""
    _check_rgb(rgb, "RGB")
    return _mix(_COLOUR_DECORRELATION, rgb)


def squash(raw: torch.Tensor, decorrelate: bool = True) -> torch.Tensor:
    """Raw values [B, C, H, W] -> image [B, C, H, W] in [0, 1], C = 3 or 4.

    The colour channels go through :func:`to_rgb` when ``decorrelate``; alpha (channel 4) never
    does. Then every channel goes through a sigmoid, the squashing function that keeps the image
    valid without clipping away gradients.
    """
    if not (torch.is_tensor(raw) and raw.ndim == 4 and raw.shape[1] in (3, 4)):
        got = list(raw.shape) if torch.is_tensor(raw) else type(raw).__name__
        raise ReverieError(f"expected raw values as [B, 3 or 4, H, W], got {got}")
    if decorrelate:
        raw = torch.cat([to_rgb(raw[:, :3]), raw[:, 3:]], dim=1)
    return torch.sigmoid(raw)


def unsquash(image: torch.Tensor, decorrelate: bool = True) -> torch.Tensor:
    """Image [B, C, H, W] in [0, 1] -> the raw values that :func:`squash` maps back to it.

    Values are first clamped to [EPSILON, 1 - EPSILON] (the sigmoid never reaches 0 or 1).
    """
    if not (torch.is_tensor(image) and image.ndim == 4 and image.shape[1] in (3, 4)):
        got = list(image.shape) if torch.is_tensor(image) else type(image).__name__
        raise ReverieError(f"expected an image as floats [B, 3 or 4, H, W] in [0, 1], got {got}")
    raw = torch.logit(image.clamp(EPSILON, 1 - EPSILON))
    if decorrelate:
        raw = torch.cat([from_rgb(raw[:, :3]), raw[:, 3:]], dim=1)
    return raw
