"""Meshes made from formulas, with texture coordinates: something to texture when no file is at hand.

>>> mesh = torus(rings=8, sides=4)
>>> tuple(mesh.vertices.shape), tuple(mesh.faces.shape), tuple(mesh.uvs.shape)
((45, 3), (64, 3), (45, 2))
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from reverie.io.atomic import atomic_path
from reverie.mesh.loading import Mesh, normalized


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
    index = torch.arange((rings + 1) * (sides + 1)).reshape(rings + 1, sides + 1)
    a, b = index[:-1, :-1].reshape(-1), index[1:, :-1].reshape(-1)
    c, d = index[1:, 1:].reshape(-1), index[:-1, 1:].reshape(-1)
    faces = torch.cat([torch.stack([a, b, c], 1), torch.stack([a, c, d], 1)])
    return Mesh(normalized(vertices.reshape(-1, 3)), faces, torch.stack([uu, vv], -1).reshape(-1, 2))


def write_obj(mesh: Mesh, path: str | os.PathLike) -> Path:
    """The mesh as a Wavefront OBJ with its texture coordinates (atomically)."""
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in mesh.vertices.tolist()]
    lines += [f"vt {s:.6f} {t:.6f}" for s, t in mesh.uvs.tolist()]
    lines += [f"f {a}/{a} {b}/{b} {c}/{c}" for a, b, c in (mesh.faces + 1).tolist()]
    path = Path(path)
    with atomic_path(path, suffix=".obj") as temporary:
        temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
