"""Loading a triangle mesh with per-vertex UVs, centred and scaled to the unit bounding sphere."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reverie.errors import ReverieError

MAX_FACES = 200_000  # a mesh from a stranger's recipe must not exhaust memory in the rasterizer
MAX_COORDINATE = 1e15  # float32 squares of larger coordinates overflow when the mesh is normalized


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh with texture coordinates.

    ``vertices`` [V, 3] floats, centred on the bounding sphere's centre and scaled so the sphere
    has radius 1; ``faces`` [F, 3] vertex indices (int64); ``uvs`` [V, 2] texture coordinates in
    [0, 1] with v pointing up, as OBJ files store them.
    """

    vertices: torch.Tensor
    faces: torch.Tensor
    uvs: torch.Tensor

    def __post_init__(self):
        v, f, uv = self.vertices, self.faces, self.uvs
        if not (v.ndim == 2 and v.shape[1] == 3 and f.ndim == 2 and f.shape[1] == 3 and uv.shape == (v.shape[0], 2)):
            raise ReverieError(f"expected vertices [V, 3], faces [F, 3] and uvs [V, 2], got {list(v.shape)}, "
                               f"{list(f.shape)} and {list(uv.shape)}")
        if f.numel() and (int(f.min()) < 0 or int(f.max()) >= v.shape[0]):
            raise ReverieError(f"mesh faces refer to vertices outside 0-{v.shape[0] - 1}")
        # A NaN texture coordinate crashes the interpreter in grid_sample's backward (PyTorch 2.x).
        for name, values in (("vertex positions", v), ("texture coordinates", uv)):
            if not bool(torch.isfinite(values).all()):
                raise ReverieError(f"mesh has non-finite {name} (NaN or infinity)")


def normalized(vertices: torch.Tensor) -> torch.Tensor:
    """``vertices`` [V, 3] moved so their bounding box centre is the origin and scaled to fit a unit sphere."""
    low, high = vertices.min(0).values, vertices.max(0).values
    centred = vertices - (low + high) / 2
    radius = float(centred.norm(dim=1).max())
    return centred / (radius if radius > 0 else 1.0)


def check_geometry(vertices: np.ndarray, uvs: np.ndarray, what: str) -> None:
    """Vertices [V, 3] and UVs [V, 2] a render can use: finite, within ``MAX_COORDINATE``, not all one point."""
    for name, values in (("vertex positions", vertices), ("texture coordinates", uvs)):
        if not np.isfinite(values).all():
            raise ReverieError(f"{what} has non-finite {name} (NaN or infinity)")
        if np.abs(values).max(initial=0) > MAX_COORDINATE:
            raise ReverieError(f"{what} has {name} beyond +-{MAX_COORDINATE:g}")
    extent = vertices.max(0) - vertices.min(0) if len(vertices) else np.zeros(3)
    if extent.max() <= 0:
        raise ReverieError(f"{what} has zero extent (every vertex at one point): nothing to render")


def load_mesh(path: str | os.PathLike) -> Mesh:
    """Read a mesh file (OBJ, PLY, GLB, ... anything trimesh reads) that has per-vertex UVs.

    Raises ReverieError, with the fix in its text, if the file is missing, unreadable, has no
    triangles or no texture coordinates.
    """
    import trimesh

    path = Path(path)
    if not path.is_file():
        raise ReverieError(f"mesh file {path} not found")
    try:
        loaded = trimesh.load(str(path), force="mesh", process=False)
    except Exception as error:  # trimesh raises many types for bad files
        detail = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise ReverieError(f"cannot read mesh {path}: {detail}") from None
    faces = np.asarray(getattr(loaded, "faces", np.zeros((0, 3))))
    if faces.ndim != 2 or len(faces) == 0:
        raise ReverieError(f"mesh {path} has no triangles")
    if len(faces) > MAX_FACES:
        raise ReverieError(f"mesh {path} has {len(faces)} faces; the limit is {MAX_FACES} (simplify it first)")
    uv = getattr(getattr(loaded, "visual", None), "uv", None)
    if uv is None or len(uv) != len(loaded.vertices):
        raise ReverieError(f"mesh {path} has no texture coordinates (UVs); unwrap it first, e.g. in Blender "
                           "(Smart UV Project) and export an OBJ with UVs")
    vertices, uv = np.asarray(loaded.vertices, dtype=np.float64), np.asarray(uv, dtype=np.float64)
    check_geometry(vertices, uv, f"mesh {path}")
    vertices = torch.as_tensor(vertices, dtype=torch.float32)
    return Mesh(normalized(vertices), torch.as_tensor(faces, dtype=torch.int64),
                torch.as_tensor(np.asarray(uv), dtype=torch.float32))
