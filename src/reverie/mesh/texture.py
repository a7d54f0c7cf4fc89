"""Texturing rasterized pixels: UVs interpolated per pixel, then a differentiable texture lookup."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from reverie.errors import ReverieError
from reverie.mesh.loading import Mesh


def uv_image(mesh: Mesh, face_index: torch.Tensor, barycentric: torch.Tensor) -> torch.Tensor:
    """Per-pixel texture coordinates [N, H, W, 2] (zeros on the background) from :func:`rasterize`'s output."""
    covered = face_index >= 0  # [N, H, W]
    corner_uvs = mesh.uvs[mesh.faces[face_index.clamp(min=0)]]  # [N, H, W, 3 corners, 2]
    uv = (barycentric[..., None] * corner_uvs).sum(-2)  # [N, H, W, 2]
    return uv * covered[..., None]


def sample_texture(texture: torch.Tensor, uv: torch.Tensor, covered: torch.Tensor,
                   background: torch.Tensor) -> torch.Tensor:
    """Images [N, C, H, W] of ``texture`` looked up at ``uv``, ``background`` where not ``covered``.

    ``texture`` [1 or N, C, Th, Tw] in [0, 1] (v = 0 is its bottom row, as in OBJ files); ``uv``
    [N, H, W, 2]; ``covered`` [N, H, W] bools; ``background`` broadcastable to [N, C, H, W].
    Bilinear and differentiable with respect to ``texture``.
    """
    if texture.ndim != 4 or texture.shape[0] not in (1, uv.shape[0]):
        raise ReverieError(f"expected the texture as [1 or {uv.shape[0]}, C, H, W], got {list(texture.shape)}")
    # uv in [0, 1] with v up -> grid_sample's [-1, 1] with y down
    grid = torch.stack([uv[..., 0] * 2 - 1, 1 - uv[..., 1] * 2], dim=-1).to(texture)
    texture = texture.expand(uv.shape[0], -1, -1, -1)
    looked_up = F.grid_sample(texture, grid, mode="bilinear", padding_mode="border", align_corners=False)
    mask = covered[:, None].to(texture)  # [N, 1, H, W]
    return looked_up * mask + background.to(texture) * (1 - mask)
