"""``reverie texture``: optimise a UV texture so renders of a mesh maximise an objective."""
from __future__ import annotations

# Modules that load torch are imported inside the commands, not here: `reverie --help` must answer in
# well under a second (bench/startup.py).
from pathlib import Path
from typing import Annotated, Optional

import typer

from reverie.cli.common import (
    DeviceOption,
    FinishOption,
    QuietOption,
    RecipeOption,
    say,
)
from reverie.cli.flags import base_recipe, recipe_flags, with_flags
from reverie.cli.task import report_stop, run_task
from reverie.errors import ReverieError


@recipe_flags("texture")
def texture(
    mesh: Annotated[Optional[Path], typer.Argument(help="Mesh file with UVs (OBJ, PLY, GLB...).", show_default=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output texture image (PNG keeps the recipe).")] = Path("texture.png"),
    preview: Annotated[Optional[Path], typer.Option(help="Also write a turntable GIF of the textured mesh here.")] = None,
    frames: Annotated[int, typer.Option(help="Frames of the turntable GIF.")] = 24,
    textured: Annotated[Optional[Path], typer.Option("--textured", help="Also write the textured mesh: .glb, or .obj with its .mtl and texture image.")] = None,
    device: DeviceOption = "auto", recipe: RecipeOption = None, finish: FinishOption = False, quiet: QuietOption = False,
    **flags,
) -> None:
    """Texture a 3D mesh: a UV texture whose renders from random viewpoints maximise an objective."""
    from reverie.io.frames import write_gif
    from reverie.io.images import check_output_path

    check_output_path(output)
    if preview is not None:
        if preview.suffix.lower() != ".gif":
            raise ReverieError(f"--preview needs a .gif file name, got {preview}")
        check_output_path(preview.with_suffix(".png"))  # its folder exists and is writable
    if textured is not None and textured.suffix.lower() not in (".glb", ".obj"):
        raise ReverieError(f"--textured needs a .glb or .obj file name, got {textured}")
    if textured is not None:
        check_output_path(textured.with_suffix(".png"))  # its folder exists and is writable
    if not 1 <= frames <= 360:
        raise ReverieError(f"frames must be a whole number from 1 to 360, got {frames}")
    changes: dict = {}
    if mesh is not None:
        changes.update(mesh=str(mesh), mesh_sha256=None)
    if flags["style"] is not None:
        changes["style_sha256"] = None
        if flags["objective"] is None:
            changes["objective"] = ""  # the style alone, unless an objective is given too
    final = with_flags(base_recipe("texture", recipe, finish), flags, **changes)
    result, interrupted = run_task(final, "texturing", quiet=quiet, device=device,
                                   check_hash=recipe is not None and mesh is None,
                                   recipe_folder=recipe.parent if recipe is not None and mesh is None else None)
    saved = result.save(output)
    report_stop(result, saved, interrupted)
    score = f", final score {result.history[-1]:.4g}" if result.history else ""
    message = f"wrote {saved} ({final.size[0]}x{final.size[1]} texture{score})"
    if preview is not None:
        write_gif(preview, result.turntable(frames), fps=12)
        message += f" and {preview}"
    if textured is not None:
        from reverie.mesh.export import save_textured_mesh

        save_textured_mesh(result.mesh, result.texture, textured)
        message += f" and {textured}"
    say(message)
