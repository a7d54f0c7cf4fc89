"""Textures on 3D meshes: loading with UVs, the z-buffer rasterizer, texturing, and the texture pipeline."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from reverie.engine.optimize import RenderSettings
from reverie.errors import ReverieError
from reverie.mesh import Mesh, load_mesh, orbit, project, rasterize, render_mesh
from reverie.pipelines.texture import texture
from reverie import TextureRecipe

# Cube faces in atlas order: (outward normal, right, up) as seen from outside.
CUBE_FACES = [((0, 0, 1), (1, 0, 0), (0, 1, 0)), ((0, 0, -1), (-1, 0, 0), (0, 1, 0)),
              ((1, 0, 0), (0, 0, -1), (0, 1, 0)), ((-1, 0, 0), (0, 0, 1), (0, 1, 0)),
              ((0, 1, 0), (1, 0, 0), (0, 0, -1)), ((0, -1, 0), (1, 0, 0), (0, 0, 1))]
COLOURS = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1]], dtype=torch.float32)


def write_cube(path, uvs: bool = True):
    """A cube [-1, 1]^3 whose face k (+z, -z, +x, -x, +y, -y) maps into tile k of a 3x2 UV atlas."""
    lines, faces = [], []
    for k, (normal, right, up) in enumerate(CUBE_FACES):
        column, row = k % 3, k // 3
        for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            lines.append("v " + " ".join(f"{normal[i] + a * right[i] + b * up[i]:g}" for i in range(3)))
            if uvs:  # inset 10% so bilinear lookups never reach a neighbouring tile
                lines.append(f"vt {(column + 0.5 + 0.4 * a) / 3:g} {(row + 0.5 + 0.4 * b) / 2:g}")
        first = 4 * k + 1
        faces += [(first, first + 1, first + 2), (first, first + 2, first + 3)]
    for corners in faces:
        lines.append("f " + " ".join(f"{i}/{i}" if uvs else f"{i}" for i in corners))
    path.write_text("\n".join(lines) + "\n")
    return path


def atlas(height: int = 32, width: int = 48) -> torch.Tensor:
    """[1, 3, H, W]: tile k of the 3x2 atlas in COLOURS[k] (row 0 of UVs is the image's bottom row)."""
    image = torch.zeros(1, 3, height, width)
    th, tw = height // 2, width // 3
    for k, colour in enumerate(COLOURS):
        column, row = k % 3, k // 3
        top = (1 - row) * th
        image[0, :, top:top + th, column * tw:(column + 1) * tw] = colour[:, None, None]
    return image


@pytest.fixture
def cube(tmp_path):
    return write_cube(tmp_path / "cube.obj")


def centre(images: torch.Tensor) -> torch.Tensor:
    """Centre pixel colours [N, 3] of images [N, 3, H, W]."""
    return images[:, :, images.shape[2] // 2, images.shape[3] // 2]


def test_front_view_sees_front_face_texel(cube):
    mesh = load_mesh(cube)
    images = render_mesh(mesh, atlas(), orbit([0.0, math.pi / 2, math.pi], 0.0), 32)
    assert torch.allclose(centre(images), COLOURS[[0, 2, 1]])  # +z from the front, +x from the right, -z behind


def test_two_views_of_one_face_agree(cube):
    mesh = load_mesh(cube)
    # Two views 20 degrees apart whose centre ray both land on the +z face; a third looking at a corner
    # edge-on would not: the check below can fail if views or UVs were mixed up.
    a, b = render_mesh(mesh, atlas(), orbit([-0.17, 0.17], [0.1, -0.1]), 40)
    assert torch.allclose(centre(a[None]), centre(b[None]))
    assert torch.allclose(centre(a[None])[0], COLOURS[0])
    # Off-centre pixels of the face agree too where both views see it (left of centre in both).
    assert torch.allclose(a[:, 20, 14], b[:, 20, 14])


def test_depth_test_picks_nearer_face():
    # Two squares facing the camera, at z = +0.5 (near) and z = -0.5 (far), sampling different UV tiles.
    square = torch.tensor([[-1.0, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]])
    near, far = square * 0.5 + torch.tensor([0, 0, 0.5]), square * 0.45 + torch.tensor([0, 0, -0.5])
    vertices = torch.cat([far, near])
    uvs = torch.tensor([[0.1, 0.1], [0.2, 0.1], [0.2, 0.4], [0.1, 0.4]] * 2)  # far -> tile 0 (red)
    uvs[4:, 0] += 1 / 3  # near -> tile 1 (green)
    for faces in (torch.tensor([[0, 1, 2], [0, 2, 3], [4, 5, 6], [4, 6, 7]]),   # far drawn first
                  torch.tensor([[4, 5, 6], [4, 6, 7], [0, 1, 2], [0, 2, 3]])):  # near drawn first
        mesh = Mesh(vertices, faces, uvs)
        screen = project(mesh.vertices, orbit([0.0], 0.0), 24, 24)
        face_index, barycentric = rasterize(screen, mesh.faces, 24, 24)
        near_faces = {i for i, face in enumerate(faces.tolist()) if min(face) >= 4}
        assert int(face_index[0, 12, 12]) in near_faces
        assert torch.allclose(barycentric[0, 12, 12].sum(), torch.tensor(1.0))
        image = render_mesh(mesh, atlas(), orbit([0.0], 0.0), 24)
        assert torch.allclose(centre(image)[0], COLOURS[1])
        assert int(face_index[0, 0, 0]) == -1  # a corner sees no face: background


def test_mesh_without_uvs_is_an_error(tmp_path):
    path = write_cube(tmp_path / "plain.obj", uvs=False)
    with pytest.raises(ReverieError, match="no texture coordinates"):
        load_mesh(path)


def tiny_recipe(mesh_path, **changes) -> TextureRecipe:
    base = TextureRecipe(mesh=str(mesh_path), objective="channel(features.relu3, 0)", size=(32, 32),
                         render_size=32, views=2, transforms="none",
                         settings=RenderSettings(steps=30, lr=0.2, redirect_steps=0))
    return replace(base, **changes)


def test_objective_rises_during_texture_optimisation(cube, tiny_cnn, assert_objective_rises):
    from reverie.objectives import parse_objective
    from reverie.params import FourierParam
    from reverie.randomness import generator

    recipe = tiny_recipe(cube)
    mesh = load_mesh(cube)
    result = texture(recipe, model=tiny_cnn, device="cpu")
    objective = parse_objective(recipe.objective)

    def views_of(texture_image):  # the same four fixed views of the cube for both textures
        with torch.no_grad():
            return render_mesh(mesh, texture_image, orbit([0.3, 1.9, 3.4, 5.0], 0.35), 32)

    before = FourierParam(32, 32, generator=generator(recipe.seed, "texture"))
    with torch.no_grad():
        start = before()
    assert_objective_rises(tiny_cnn, objective, views_of(start), views_of(result.texture))
    assert len(result.history) == recipe.settings.steps
    assert result.texture.shape == (1, 3, 32, 32)


def test_same_seed_same_texture(cube, tiny_cnn):
    recipe = tiny_recipe(cube, settings=RenderSettings(steps=3, redirect_steps=0))
    first = texture(recipe, model=tiny_cnn, device="cpu").texture
    second = texture(recipe, model=tiny_cnn, device="cpu").texture
    other = texture(replace(recipe, seed=1), model=tiny_cnn, device="cpu").texture
    assert torch.equal(first, second)
    assert not torch.equal(first, other)


def test_texture_png_carries_recipe_and_turntable(cube, tiny_cnn, tmp_path):
    from reverie.io.images import read_recipe_text

    recipe = tiny_recipe(cube, settings=RenderSettings(steps=2, redirect_steps=0))
    result = texture(recipe, model=tiny_cnn, device="cpu")
    saved = result.save(tmp_path / "texture.png")
    replayed = TextureRecipe.from_json(read_recipe_text(saved))
    assert replayed == result.recipe and replayed.mesh_sha256
    frames = result.turntable(frames=3, size=24)
    assert frames.shape == (3, 3, 24, 24) and 0 <= float(frames.min()) <= float(frames.max()) <= 1


def test_cli_mesh_without_uvs_exits_2_with_one_line(tmp_path, reverie_cli):
    path = write_cube(tmp_path / "plain.obj", uvs=False)
    code, out, err = reverie_cli("texture", str(path), "-o", str(tmp_path / "t.png"), "-q")
    assert code == 2
    assert err.strip().count("\n") == 0 and "no texture coordinates" in err
    assert not (tmp_path / "t.png").exists()


def test_style_texture_moves_towards_the_style_grams(cube, tiny_cnn, score):
    from reverie.params import FourierParam
    from reverie.pipelines.texture import texture_objective
    from reverie.randomness import generator

    recipe = tiny_recipe(cube, objective="", style="sample:chelsea", style_layers=("features.relu1", "features.relu2"),
                         settings=RenderSettings(steps=24, lr=0.2, redirect_steps=0))
    result = texture(recipe, model=tiny_cnn, device="cpu")
    assert result.recipe.style == "sample:chelsea" and result.recipe.objective == ""
    # Judged on fixed views over grey: the step history is dominated by each step's random backgrounds.
    mesh = load_mesh(cube)
    style, _ = texture_objective(recipe, tiny_cnn, torch.device("cpu"), False)
    with torch.no_grad():
        start = FourierParam(32, 32, generator=generator(recipe.seed, "texture"))()
        before, after = (score(tiny_cnn, style, render_mesh(mesh, image, orbit([0.3, 1.9, 3.4, 5.0], 0.35), 32))
                         for image in (start, result.texture))
    assert after > before + 0.3 * abs(before), f"style score went from {before:.4g} to {after:.4g}"


def test_nothing_to_optimise_is_an_error(cube, tiny_cnn):
    with pytest.raises(ReverieError, match="nothing to optimise"):
        texture(tiny_recipe(cube, objective=""), model=tiny_cnn, device="cpu")


def test_cli_writes_the_textured_mesh_beside_the_texture(tmp_path, reverie_cli):
    import trimesh

    path = write_cube(tmp_path / "cube.obj")
    code, out, err = reverie_cli("texture", str(path), "-o", str(tmp_path / "t.png"), "--textured",
                                 str(tmp_path / "cube-textured.glb"), "--size", "16x16", "--render-size", "24",
                                 "--views", "1", "--steps", "1", "-q")
    assert code == 0, err
    loaded = trimesh.load(str(tmp_path / "cube-textured.glb"), force="mesh", process=False)
    assert np.asarray(loaded.visual.material.baseColorTexture).shape[:2] == (16, 16)


def test_cli_refuses_a_textured_mesh_format_it_cannot_write_before_any_work(tmp_path, reverie_cli):
    code, _, err = reverie_cli("texture", str(write_cube(tmp_path / "cube.obj")), "--textured", str(tmp_path / "x.stl"))
    assert code == 2 and "--textured needs a .glb or .obj file name" in err


def test_a_sample_mesh_needs_no_file_and_a_growing_texture_has_a_snapshot_per_frame(tiny_cnn):
    from reverie.pipelines.texture import run

    recipe = replace(tiny_recipe("sample:sphere"), settings=RenderSettings(steps=6, lr=0.2, redirect_steps=0))
    result = run(recipe, model=tiny_cnn, device="cpu", snapshots=4)
    assert result.recipe.mesh == "sample:sphere" and result.recipe.mesh_sha256 is None
    assert len(result.snapshots) == 4 and torch.equal(result.snapshots[-1], result.texture)
    assert not torch.equal(result.snapshots[0], result.texture)  # it evolved
    assert result.growing().shape == (4, 3, 32, 32)


def test_cli_textures_the_bundled_torus_and_writes_it_growing(tmp_path, reverie_cli):
    from PIL import Image

    code, _, err = reverie_cli("texture", "sample:torus", "-o", tmp_path / "t.png", "--grow", tmp_path / "g.gif",
                               "--frames", "3", "--delay", "5", "--size", "16x16", "--render-size", "24",
                               "--views", "1", "--steps", "2", "-q")
    assert code == 0, err
    with Image.open(tmp_path / "g.gif") as gif:
        assert (gif.n_frames, gif.size, gif.info["duration"]) == (3, (24, 24), 50)
    code, _, err = reverie_cli("texture", "sample:tours", "-o", tmp_path / "u.png", "-q")
    assert code == 2 and err == "reverie: error: unknown sample mesh 'tours' (nearest: torus)\n"
