"""``reverie caricature`` and ``reverie style``: feature inversion and style transfer from the command line."""
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
    image_source,
    say,
)
from reverie.cli.flags import base_recipe, recipe_flags, with_flags
from reverie.cli.task import report_stop, run_task
from reverie.errors import ReverieError


@recipe_flags("caricature")
def caricature(
    image: Annotated[Optional[str], typer.Argument(help="Photo to caricature (a file, or a sample name: chelsea...); omit for the recipe's.", show_default=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image.")] = Path("caricature.png"),
    gif: Annotated[Optional[Path], typer.Option(help="Also write the images (a morph's frames, with --frames) as an animated GIF here.")] = None,
    delay: Annotated[int, typer.Option(help="GIF frame delay in hundredths of a second.")] = 12,
    device: DeviceOption = "auto", max_work: MaxWorkOption = None, overwrite_input: OverwriteInputOption = False,
    recipe: RecipeOption = None, finish: FinishOption = False, quiet: QuietOption = False,
    **flags,
) -> None:
    """Caricature a photo: an image whose activations at a layer point where the photo's do, only stronger."""
    from reverie.io.images import check_output_path

    check_output_path(output)
    if gif is not None:
        from reverie.io.frames import check_delay

        if gif.suffix.lower() != ".gif":
            raise ReverieError(f"--gif needs a .gif file name, got {gif}")
        check_output_path(gif.with_suffix(".png"))  # its folder exists and is writable
        check_delay(delay)
    changes = {} if image is None else dict(source=image_source(image), source_sha256=None, size=None)
    final = with_flags(base_recipe("caricature", recipe, finish), flags, **changes)  # --size wins over size=None
    result, interrupted = run_task(final, "rendering", quiet=quiet, device=device, max_work=max_work,
                                   overwrite_input=overwrite_input, outputs=(output,),
                                   check_hash=recipe is not None and image is None)
    saved = result.save(output)
    report_stop(result, saved, interrupted)
    if gif is not None:
        from reverie.io.frames import write_gif

        write_gif(gif, result.images, delay=delay)
    shown = f"{len(result.labels)} frames" if final.frames > 1 else \
        f"{len(result.labels)} layer(s): {', '.join(result.labels)}"
    say(f"wrote {saved}" + (f" and {gif}" if gif is not None else "") + f" ({shown})")


@recipe_flags("style")
def style(
    content: Annotated[Optional[str], typer.Argument(help="Content photo (a file or a sample name); omit for the recipe's.", show_default=False)] = None,
    style_image: Annotated[Optional[str], typer.Argument(metavar="STYLE", help="Style image (a file or a sample name); omit for the recipe's.", show_default=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image.")] = Path("style.png"),
    noise: Annotated[bool, typer.Option("--noise", help="Start from noise instead of the content photo.")] = False,
    device: DeviceOption = "auto", max_work: MaxWorkOption = None, overwrite_input: OverwriteInputOption = False,
    recipe: RecipeOption = None, finish: FinishOption = False, quiet: QuietOption = False,
    **flags,
) -> None:
    """Style transfer: the content photo's layout painted with the style image's textures (any model)."""
    from reverie.io.images import check_output_path

    check_output_path(output)
    changes: dict = {}
    if content is not None:
        changes.update(content=image_source(content), content_sha256=None, size=None)
    if style_image is not None:
        changes.update(style=image_source(style_image), style_sha256=None)
    if noise:
        changes["init"] = "noise"
    for name in ("content_layers", "style_layers"):  # repeatable, or comma-separated
        if flags[name] is not None:
            flags[name] = [part.strip() for value in flags[name] for part in value.split(",") if part.strip()]
    final = with_flags(base_recipe("style", recipe, finish), flags, **changes)
    given = content is not None or style_image is not None
    result, interrupted = run_task(final, "rendering", quiet=quiet, device=device, max_work=max_work,
                                   overwrite_input=overwrite_input, outputs=(output,),
                                   check_hash=recipe is not None and not given)
    saved = result.save(output)
    report_stop(result, saved, interrupted)
    score = f", final score {result.history[-1]:.4g}" if result.history else ""
    say(f"wrote {saved} ({result.image.shape[-1]}x{result.image.shape[-2]}{score})")
