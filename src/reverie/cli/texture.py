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
    MaxWorkOption,
    OverwriteInputOption,
    QuietOption,
    RecipeOption,
    say,
)
from reverie.cli.flags import base_recipe, recipe_flags, with_flags
from reverie.cli.task import report_stop, run_task
from reverie.errors import ReverieError


@recipe_flags("texture")
def texture(
    mesh: Annotated[Optional[Path], typer.Argument(help="Mesh file with UVs (OBJ, PLY, GLB...), or a bundled one: sample:torus, sample:sphere, sample:cube.", show_default=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output texture image (PNG keeps the recipe).")] = Path("texture.png"),
    preview: Annotated[Optional[Path], typer.Option(help="Also write a turntable GIF of the textured mesh here.")] = None,
    frames: Annotated[int, typer.Option(help="Frames of the turntable GIF and of --grow.")] = 24,
    grow: Annotated[Optional[Path], typer.Option(help="Also write the mesh turning while its texture evolves from the first step to the last (.gif or .mp4).")] = None,
    delay: Annotated[int, typer.Option(help="GIF frame delay in hundredths of a second (--preview, --grow).")] = 8,
    textured: Annotated[Optional[Path], typer.Option("--textured", help="Also write the textured mesh: .glb, or .obj with its .mtl and texture image.")] = None,
    device: DeviceOption = "auto", max_work: MaxWorkOption = None, overwrite_input: OverwriteInputOption = False,
    recipe: RecipeOption = None, finish: FinishOption = False, quiet: QuietOption = False,
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
    if grow is not None:
        if grow.suffix.lower() not in (".gif", ".mp4"):
            raise ReverieError(f"--grow needs a .gif or .mp4 file name, got {grow}")
        check_output_path(grow.with_suffix(".png"))  # its folder exists and is writable
    from reverie.io.frames import check_delay

    check_delay(delay)
    if textured is not None and textured.suffix.lower() not in (".glb", ".obj"):
        raise ReverieError(f"--textured needs a .glb or .obj file name, got {textured}")
    if textured is not None:
        check_output_path(textured.with_suffix(".png"))  # its folder exists and is writable
    if not 1 <= frames <= 360:
        raise ReverieError(f"frames must be a whole number from 1 to 360, got {frames}")
    changes: dict = {}
    if mesh is not None:
        changes.update(mesh=str(mesh), mesh_sha256=None)  # a Path keeps "sample:torus" as it is
    if flags["style"] is not None:
        changes["style_sha256"] = None
        if flags["objective"] is None:
            changes["objective"] = ""  # the style alone, unless an objective is given too
    final = with_flags(base_recipe("texture", recipe, finish), flags, **changes)
    result, interrupted = run_task(final, "texturing", quiet=quiet, device=device, max_work=max_work,
                                   overwrite_input=overwrite_input, outputs=(output, preview, grow),
                                   check_hash=recipe is not None and mesh is None,
                                   snapshots=frames if grow is not None else 0)
    saved = result.save(output)
    report_stop(result, saved, interrupted)
    score = f", final score {result.history[-1]:.4g}" if result.history else ""
    message = f"wrote {saved} ({final.size[0]}x{final.size[1]} texture{score})"
    if preview is not None:
        write_gif(preview, result.turntable(frames), delay=delay)
        message += f" and {preview}"
    if grow is not None:
        if grow.suffix.lower() == ".gif":
            write_gif(grow, result.growing(), delay=delay)
        else:
            from reverie.io.video import write_mp4

            write_mp4(grow, result.growing().split(1), fps=100 / delay)
        message += f" and {grow}"
    if textured is not None:
        from reverie.io.meshes import save_textured_mesh

        save_textured_mesh(result.mesh, result.texture, textured)
        message += f" and {textured}"
    say(message)
