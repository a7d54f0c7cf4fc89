"""The bundled meshes (torus, sphere, cube): closed meshes with UVs, an OBJ round trip, and sample:NAME."""
from __future__ import annotations

import pytest
import torch

from reverie.errors import ReverieError

from reverie.mesh import load_mesh
from reverie.io.meshes import write_obj
from reverie.mesh.shapes import sample_mesh, sphere, torus


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


@pytest.mark.parametrize("name", ["torus", "sphere", "cube"])
def test_every_sample_mesh_fits_the_unit_sphere_has_uvs_and_renders_something(name):
    from reverie.mesh import turntable

    mesh = sample_mesh(name)
    assert mesh.vertices.norm(dim=1).max() <= 1 + 1e-5 and mesh.uvs.min() >= 0 and mesh.uvs.max() <= 1
    assert int(mesh.faces.max()) < mesh.vertices.shape[0]
    view = turntable(mesh, torch.ones(1, 3, 8, 8), frames=1, size=32, background=0.0)
    assert 0.1 < float(view.mean()) < 0.9  # the white mesh covers part of the black frame


def test_an_unknown_sample_mesh_names_the_nearest():
    with pytest.raises(ReverieError, match=r"unknown sample mesh 'sphre' \(nearest: sphere\)"):
        sample_mesh("sphre")


def test_a_turntable_can_wear_a_texture_per_frame():
    from reverie.mesh import turntable

    textures = [torch.full((1, 3, 4, 4), value) for value in (0.2, 0.9)]
    views = turntable(sphere(8, 4), textures, frames=2, size=16, background=0.0)
    assert views[0].max() < 0.25 and views[1].max() > 0.85
    with pytest.raises(ReverieError, match="needs 3 textures, got 2"):
        turntable(sphere(8, 4), textures, frames=3)
