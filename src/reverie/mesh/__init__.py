"""Textured triangle meshes: loading (with UVs), a small z-buffer rasterizer, and differentiable texturing.

>>> import torch
>>> from reverie.mesh import Mesh, orbit, render_mesh
>>> square = Mesh(torch.tensor([[-1., -1, 0], [1, -1, 0], [-1, 1, 0], [1, 1, 0]]),
...               torch.tensor([[0, 1, 2], [1, 3, 2]]), torch.tensor([[0., 0], [1, 0], [0, 1], [1, 1]]))
>>> render_mesh(square, torch.ones(1, 3, 4, 4), orbit([0.0], 0.0), 16).shape
torch.Size([1, 3, 16, 16])
"""
from __future__ import annotations

from reverie.mesh.loading import Mesh, load_mesh, normalized
from reverie.mesh.param import TexturedMeshParam, render_mesh, turntable
from reverie.mesh.raster import Cameras, fitting_focal, orbit, project, random_cameras, rasterize
from reverie.mesh.texture import sample_texture, uv_image

__all__ = ["Mesh", "load_mesh", "normalized", "Cameras", "orbit", "random_cameras", "fitting_focal", "project",
           "rasterize", "uv_image", "sample_texture", "render_mesh", "turntable", "TexturedMeshParam"]
