"""The bundled torus: a closed mesh with UVs that survives a trip through an OBJ file."""
from __future__ import annotations

import torch

from reverie.mesh import load_mesh
from reverie.mesh.shapes import torus, write_obj


def test_the_torus_written_as_obj_loads_back_with_its_uvs(tmp_path):
    mesh = torus(rings=12, sides=6)
    loaded = load_mesh(write_obj(mesh, tmp_path / "torus.obj"))
    assert torch.allclose(loaded.vertices, mesh.vertices, atol=1e-5)
    assert torch.equal(loaded.faces, mesh.faces) and torch.allclose(loaded.uvs, mesh.uvs, atol=1e-6)
    assert loaded.uvs.min() >= 0 and loaded.uvs.max() <= 1


def test_the_torus_has_a_hole_and_fits_the_unit_sphere():
    mesh = torus(rings=32, sides=16)
    radius = mesh.vertices.norm(dim=1)
    assert radius.max() <= 1 + 1e-5 and radius.min() > 0.3   # nothing near the centre: a ring
