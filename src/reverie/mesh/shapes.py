"""Meshes made from formulas, with texture coordinates: something to texture when no file is at hand.

>>> mesh = torus(rings=8, sides=4)
>>> tuple(mesh.vertices.shape), tuple(mesh.faces.shape), tuple(mesh.uvs.shape)
((45, 3), (64, 3), (45, 2))
"""
from __future__ import annotations

import math

import torch

from reverie.errors import ReverieError, unknown_name_message
from reverie.mesh.loading import Mesh, normalized


def _grid_faces(rows: int, columns: int) -> torch.Tensor:
    """Two triangles per cell of a (rows + 1) x (columns + 1) vertex grid, numbered row by row: [F, 3]."""
    index = torch.arange((rows + 1) * (columns + 1)).reshape(rows + 1, columns + 1)
    a, b = index[:-1, :-1].reshape(-1), index[1:, :-1].reshape(-1)
    c, d = index[1:, 1:].reshape(-1), index[:-1, 1:].reshape(-1)
    return torch.cat([torch.stack([a, b, c], 1), torch.stack([a, c, d], 1)])


def torus(rings: int = 64, sides: int = 32, thickness: float = 0.4) -> Mesh:
    """A ring torus, its texture wrapped once around each way (u along the ring, v around the tube).

    The seams get their own vertices (``(rings + 1) * (sides + 1)`` in all), so the texture meets
    itself across them instead of being squeezed back over the whole image.
    """
    u = torch.linspace(0, 1, rings + 1)
    v = torch.linspace(0, 1, sides + 1)
    uu, vv = torch.meshgrid(u, v, indexing="ij")                   # [rings + 1, sides + 1]
    around, tube = uu * 2 * math.pi, vv * 2 * math.pi
    radius = 1 + thickness * torch.cos(tube)
    vertices = torch.stack([radius * torch.cos(around), thickness * torch.sin(tube), radius * torch.sin(around)], -1)
    return Mesh(normalized(vertices.reshape(-1, 3)), _grid_faces(rings, sides), torch.stack([uu, vv], -1).reshape(-1, 2))


def sphere(segments: int = 64, rings: int = 32) -> Mesh:
    """A UV sphere: u once around the equator, v from the south pole (0) to the north pole (1)."""
    u = torch.linspace(0, 1, segments + 1)
    v = torch.linspace(0, 1, rings + 1)
    uu, vv = torch.meshgrid(u, v, indexing="ij")                   # [segments + 1, rings + 1]
    around, latitude = uu * 2 * math.pi, (vv - 0.5) * math.pi
    vertices = torch.stack([torch.cos(latitude) * torch.cos(around), torch.sin(latitude),
                            torch.cos(latitude) * torch.sin(around)], -1)
    return Mesh(normalized(vertices.reshape(-1, 3)), _grid_faces(segments, rings), torch.stack([uu, vv], -1).reshape(-1, 2))


def cube(cells: int = 8) -> Mesh:
    """A cube whose six faces each show the whole texture (each face a grid of ``cells`` x ``cells`` squares)."""
    t = torch.linspace(-1, 1, cells + 1)
    a, b = torch.meshgrid(t, t, indexing="ij")                      # [cells + 1, cells + 1]
    one = torch.ones_like(a)
    # Each face: (x, y, z) of its grid, oriented so its normal points out (right-handed a, b, normal).
    faces_xyz = [(one, a, b), (-one, b, a), (b, one, a), (a, -one, b), (a, b, one), (b, a, -one)]
    uv = torch.stack([(a + 1) / 2, (b + 1) / 2], -1).reshape(-1, 2)
    vertices, faces, uvs = [], [], []
    for index, (x, y, z) in enumerate(faces_xyz):
        vertices.append(torch.stack([x, y, z], -1).reshape(-1, 3))
        faces.append(_grid_faces(cells, cells) + index * (cells + 1) ** 2)
        uvs.append(uv)
    return Mesh(normalized(torch.cat(vertices)), torch.cat(faces), torch.cat(uvs))


# The meshes ``sample:NAME`` names wherever a mesh file is taken (``reverie texture sample:torus``).
SAMPLE_MESHES = {"torus": torus, "sphere": sphere, "cube": cube}


def sample_mesh(name: str) -> Mesh:
    """The bundled mesh ``name`` (torus, sphere, cube), or a ReverieError naming the nearest."""
    if name not in SAMPLE_MESHES:
        raise ReverieError(unknown_name_message("sample mesh", name, SAMPLE_MESHES))
    return SAMPLE_MESHES[name]()
