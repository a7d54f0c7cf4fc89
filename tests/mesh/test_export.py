"""A textured mesh written for other programs keeps its texture and UVs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from reverie.errors import ReverieError
from reverie.mesh.export import save_textured_mesh
from reverie.mesh.shapes import torus


def _texture() -> torch.Tensor:
    texture = torch.zeros(1, 3, 16, 16)
    texture[:, 0, :, :8] = 1.0          # left half red, right half black
    return texture


@pytest.mark.parametrize("suffix", [".glb", ".obj"])
def test_the_written_mesh_carries_the_texture_image_and_uvs(tmp_path, suffix):
    mesh = torus(rings=8, sides=4)
    path = save_textured_mesh(mesh, _texture(), tmp_path / f"textured{suffix}")
    loaded = trimesh.load(str(path), force="mesh", process=False)
    image = np.asarray(loaded.visual.material.baseColorTexture if suffix == ".glb" else loaded.visual.material.image)
    assert image.shape[:2] == (16, 16) and image[0, 0, 0] == 255 and image[0, 15, 0] == 0
    assert len(loaded.faces) == len(mesh.faces) and loaded.visual.uv.shape == (len(loaded.vertices), 2)
    assert not [item for item in tmp_path.iterdir() if item.name.startswith(".")]  # no temporaries left


def test_other_formats_are_refused(tmp_path):
    with pytest.raises(ReverieError, match=r"\.glb or \.obj"):
        save_textured_mesh(torus(4, 3), _texture(), tmp_path / "mesh.stl")
