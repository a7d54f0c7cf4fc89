"""A textured mesh as an image parameterization: the texture is trained, each call renders new views."""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from reverie.errors import ReverieError
from reverie.mesh.loading import Mesh
from reverie.mesh.raster import Cameras, orbit, project, random_cameras, rasterize
from reverie.mesh.texture import sample_texture, uv_image
from reverie.params.base import ImageParam, check_generator


class TexturedMeshParam(ImageParam):
    """Renders of ``mesh`` wearing ``texture`` (an ImageParam whose image is the UV texture).

    ``forward()`` -> [views, 3, size, size] in [0, 1]. While gradients are on (optimisation)
    each call draws ``views`` new random cameras and flat background colours from ``generator``;
    under ``torch.no_grad()`` (previews, kept images) it shows fixed views on grey instead, so a
    preview never shifts the random stream and the same seed gives the same texture. Its
    parameters are the texture's, so the ordinary ``render`` loop optimises the texture.
    """

    def __init__(self, mesh: Mesh, texture: ImageParam, size: int, views: int = 1, *, generator: torch.Generator):
        super().__init__(size, size, batch=views, channels=3)
        if texture.batch != 1 or texture.channels != 3:
            raise ReverieError(f"expected a texture param of batch 1 with 3 channels, got batch {texture.batch} "
                               f"and {texture.channels} channels")
        self.mesh = mesh
        self.texture = texture
        self.generator = check_generator(generator)

    def forward(self) -> torch.Tensor:
        if torch.is_grad_enabled():
            cameras = random_cameras(self.batch, self.generator)
            background = torch.rand(self.batch, 3, 1, 1, generator=self.generator)
        else:
            azimuth = [2 * math.pi * i / self.batch for i in range(self.batch)]
            cameras = orbit(azimuth, math.radians(20))
            background = torch.full((self.batch, 3, 1, 1), 0.5)
        return self.view(cameras, background)

    def view(self, cameras: Cameras, background: torch.Tensor | float = 0.5) -> torch.Tensor:
        """The textured mesh seen by ``cameras``: [len(cameras), 3, size, size] in [0, 1]."""
        texture = self.texture()  # [1, 3, Th, Tw]
        return render_mesh(self.mesh, texture, cameras, self.height, background)


def render_mesh(mesh: Mesh, texture: torch.Tensor, cameras: Cameras, size: int,
                background: torch.Tensor | float = 0.5) -> torch.Tensor:
    """``mesh`` with ``texture`` [1, 3, Th, Tw] seen by ``cameras``: [N, 3, size, size] in [0, 1].

    Differentiable with respect to ``texture`` only; the geometry is rasterized without gradients.
    """
    screen = project(mesh.vertices, cameras, size, size)  # [N, V, 3]
    face_index, barycentric = rasterize(screen, mesh.faces, size, size)  # [N, H, W], [N, H, W, 3]
    uv = uv_image(mesh, face_index, barycentric)  # [N, H, W, 2]
    background = torch.as_tensor(background, dtype=texture.dtype)
    return sample_texture(texture, uv.to(texture.device), (face_index >= 0).to(texture.device),
                          background.to(texture.device))


def turntable(mesh: Mesh, texture: torch.Tensor | Sequence[torch.Tensor], frames: int = 24, size: int = 160,
              elevation: float = 20.0, background: float = 0.5) -> torch.Tensor:
    """``frames`` views [frames, 3, size, size] of the textured mesh turning once about its vertical axis.

    ``texture``: one texture [1, 3, H, W], or a sequence of ``frames`` textures, frame i wearing the
    i-th (a texture that evolves while the mesh turns).
    """
    textures = [texture] * frames if torch.is_tensor(texture) else list(texture)
    if len(textures) != frames:
        raise ReverieError(f"a turntable of {frames} frames needs {frames} textures, got {len(textures)}")
    with torch.no_grad():  # one frame at a time: memory stays that of one view
        return torch.cat([render_mesh(mesh, textures[i], orbit([2 * math.pi * i / frames], math.radians(elevation)),
                                      size, background) for i in range(frames)])
