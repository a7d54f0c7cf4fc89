"""Dense optical flow between two frames (Farneback, through OpenCV), and warping an image along it.

Direction convention, used by both functions: a flow is defined on the *current* frame's pixel grid
and holds, for each pixel (x, y), the motion (dx, dy) in pixels that brought its content there from
the previous frame:

    current(x, y) ~= previous(x - dx, y - dy)

so a scene panned 2 px to the right has a flow of about (2, 0) everywhere, and
``warp(previous, flow)`` is the previous frame moved to the current frame's positions.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from reverie.errors import ReverieError
from reverie.imaging import check_image

# cv2.calcOpticalFlowFarneback's parameters, as the one tool that dreamed video coherently used them:
# a 3-level pyramid halving each level, 15 px averaging window, 3 iterations per level, polynomial
# expansion over 5-px neighbourhoods with a 1.2 px Gaussian. Pinned by test_flow_recovers_a_known_shift.
FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)


def _grey(image: torch.Tensor, name: str):
    """[1, 3, H, W] floats in [0, 1] -> [H, W] uint8 luma (numpy), as OpenCV's flow takes it."""
    import cv2

    check_image(image, name)
    if image.shape[0] != 1:
        raise ReverieError(f"expected {name} as one image [1, 3, H, W], got a batch of {image.shape[0]}")
    # [1, 3, H, W] -> [H, W, 3], rounded onto 8-bit levels like reverie.imaging.to_pil
    rgb = image[0].detach().clamp(0, 1).permute(1, 2, 0).mul(255).round().to(torch.uint8).cpu().numpy()
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def optical_flow(previous: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    """The motion from ``previous`` to ``current`` (each [1, 3, H, W] in [0, 1]) as a flow [H, W, 2].

    ``flow[y, x] = (dx, dy)`` in pixels, defined on ``current``'s grid: the content at (x, y) in
    ``current`` was at (x - dx, y - dy) in ``previous`` (see the module docstring). float32, on the CPU.
    """
    try:
        import cv2
    except ImportError:
        raise ReverieError("optical flow needs OpenCV: pip install opencv-python-headless") from None

    if previous.shape != current.shape:
        raise ReverieError(f"optical flow needs two frames of one size, got {list(previous.shape)} "
                           f"and {list(current.shape)}")
    previous_grey, current_grey = _grey(previous, "previous frame"), _grey(current, "current frame")
    # Farneback from current to previous gives, on current's grid, where each pixel's content was:
    # current(p) ~= previous(p + backward(p)). The motion that brought it here is the negative.
    backward = cv2.calcOpticalFlowFarneback(current_grey, previous_grey, None, **FARNEBACK)  # [H, W, 2]
    return torch.from_numpy(-backward).contiguous()


def warp(image: torch.Tensor, flow: torch.Tensor, padding: str = "border") -> torch.Tensor:
    """Move ``image`` [B, C, H, W] along ``flow`` [H, W, 2]: ``out(x, y) = image(x - dx, y - dy)``.

    Bilinear. Positions that come from outside the image take the nearest edge pixel
    (``padding="border"``) or 0 (``padding="zeros"``, right for signed detail, where 0 means none).

    >>> row = torch.arange(4.0).reshape(1, 1, 1, 4)
    >>> warp(row, torch.tensor([1.0, 0.0]).expand(1, 4, 2))  # everything 1 px to the right
    tensor([[[[0., 0., 1., 2.]]]])
    """
    if not (torch.is_tensor(image) and image.ndim == 4 and image.is_floating_point()):
        shape = list(image.shape) if torch.is_tensor(image) else type(image).__name__
        raise ReverieError(f"expected an image as floats [B, C, H, W], got {shape}")
    height, width = image.shape[-2:]
    if not (torch.is_tensor(flow) and tuple(flow.shape) == (height, width, 2)):
        shape = list(flow.shape) if torch.is_tensor(flow) else type(flow).__name__
        raise ReverieError(f"expected a flow [{height}, {width}, 2] for a {width}x{height} image, got {shape}")
    if padding not in ("border", "zeros"):
        raise ReverieError(f"warp padding must be 'border' or 'zeros', got {padding!r}")
    flow = flow.to(device=image.device, dtype=image.dtype)
    ys, xs = torch.meshgrid(torch.arange(height, device=image.device, dtype=image.dtype),
                            torch.arange(width, device=image.device, dtype=image.dtype), indexing="ij")
    source_x, source_y = xs - flow[..., 0], ys - flow[..., 1]  # [H, W] each: where each pixel samples
    # Pixel positions -> grid_sample's [-1, 1] (align_corners: -1 and 1 are the outer pixel centres).
    grid = torch.stack((2 * source_x / max(width - 1, 1) - 1, 2 * source_y / max(height - 1, 1) - 1), dim=-1)
    grid = grid.unsqueeze(0).expand(image.shape[0], height, width, 2)  # [H, W, 2] -> [B, H, W, 2]
    return F.grid_sample(image, grid, mode="bilinear", padding_mode=padding, align_corners=True)


# Sundaram, Brox and Keutzer's forward-backward check (as Ruder et al.'s artistic video uses it): a
# pixel's flow is trusted when following it forward and then the backward flow from where it lands
# comes back to within 0.01 of the squared flow lengths plus half a pixel squared.
_CONSISTENCY_RELATIVE, _CONSISTENCY_ABSOLUTE = 0.01, 0.5


def consistency_mask(forward: torch.Tensor, backward: torch.Tensor) -> torch.Tensor:
    """Where the motion is trusted: [1, 1, H, W], 1 where ``forward`` and ``backward`` agree, else 0.

    ``forward`` [H, W, 2] is :func:`optical_flow` (previous, current), on the current grid;
    ``backward`` [H, W, 2] is ``optical_flow(current, previous)``, on the previous grid. For a pixel
    x of the current frame, content came from y = x - forward(x), and the backward flow there
    should bring it back: backward(y) ~= -forward(x). Where it does not, x was hidden in the
    previous frame (disoccluded) or the flow is wrong there: nothing should be carried to it.
    """
    # backward, moved onto the current grid along forward: back_here(x) = backward(x - forward(x))
    back_here = warp(backward.permute(2, 0, 1).unsqueeze(0), forward)[0].permute(1, 2, 0)  # [H, W, 2]
    mismatch = (forward + back_here).square().sum(dim=-1)  # [H, W]
    tolerance = _CONSISTENCY_RELATIVE * (forward.square().sum(dim=-1) + back_here.square().sum(dim=-1))
    trusted = mismatch <= tolerance + _CONSISTENCY_ABSOLUTE
    return trusted.to(forward.dtype)[None, None]  # [1, 1, H, W]
