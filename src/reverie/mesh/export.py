"""Writing a textured mesh for other programs: GLB (one file: 3D viewers, the studio) or OBJ with its
material and texture image beside it (Blender, MeshLab)."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from reverie.errors import ReverieError
from reverie.imaging import to_pil
from reverie.io.atomic import atomic_path
from reverie.mesh.loading import Mesh


def _trimesh(mesh: Mesh, texture: torch.Tensor):
    import trimesh

    visual = trimesh.visual.TextureVisuals(uv=mesh.uvs.numpy(), image=to_pil(texture[:1, :3]))
    return trimesh.Trimesh(mesh.vertices.numpy(), mesh.faces.numpy().astype(np.int64), visual=visual, process=False)


def save_textured_mesh(mesh: Mesh, texture: torch.Tensor, path: str | os.PathLike) -> Path:
    """Write ``mesh`` with ``texture`` [1, 3, H, W]: ``.glb`` as one file, ``.obj`` with ``NAME.mtl``
    and the texture image (as trimesh names it) beside it. Each file appears complete or not at all."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".glb", ".obj"):
        raise ReverieError(f"a textured mesh is written as .glb or .obj, got '{path.suffix or path.name}'")
    textured = _trimesh(mesh, texture)
    if suffix == ".glb":
        with atomic_path(path, suffix=".glb") as temporary:
            temporary.write_bytes(textured.export(file_type="glb"))
        return path
    # OBJ: trimesh writes the OBJ, its .mtl and the texture into a folder; each is moved in whole
    with tempfile.TemporaryDirectory(dir=path.parent) as folder:
        textured.export(str(Path(folder) / path.name), file_type="obj", mtl_name=f"{path.stem}.mtl")
        written = sorted(Path(folder).iterdir(), key=lambda item: item.suffix == ".obj")  # the OBJ last
        for item in written:
            shutil.move(str(item), path.parent / item.name)
    return path
