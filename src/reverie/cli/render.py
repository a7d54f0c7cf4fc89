"""``reverie render``: draw a CPPN visualization again at any size, from the network its PNG stores."""
from __future__ import annotations

# Modules that load torch are imported inside the command, not here: `reverie --help` must answer fast.
from pathlib import Path
from typing import Annotated

import typer

from reverie.cli.common import DeviceOption, parse_size, say
from reverie.errors import ReverieError

MAX_RENDER_SIDE = 8192  # a float image of 8192 x 8192 is already 0.8 GB before it is written


def render(
    image: Annotated[Path, typer.Argument(help="A PNG written by `reverie visualize --param cppn`.", show_default=False)],
    size: Annotated[str, typer.Option("--size", help=f"WIDTHxHEIGHT of the new picture (up to {MAX_RENDER_SIDE} a side); "
                                                     "another aspect than the original's stretches it.")] = "2048x2048",
    output: Annotated[Path, typer.Option("--output", "-o", help="Output image (PNG keeps the network, to render again).")] = Path("render.png"),
    device: DeviceOption = "auto",
) -> None:
    """Re-render a CPPN visualization at any size: its network, evaluated on a finer grid (true detail, not an upscale)."""
    from reverie.imaging import flatten_alpha, grid
    from reverie.io.images import check_output_path, read_network_text, read_recipe_text, save_output
    from reverie.models import resolve_device
    from reverie.params.cppn import CPPNParam

    width, height = parse_size(size)
    if width > MAX_RENDER_SIDE or height > MAX_RENDER_SIDE:
        raise ReverieError(f"render size must be at most {MAX_RENDER_SIDE}x{MAX_RENDER_SIDE}, got {width}x{height}")
    check_output_path(output)
    network = read_network_text(image)
    param = CPPNParam.from_text(network, device=resolve_device(device))
    try:
        recipe = read_recipe_text(image)
    except ReverieError:
        recipe = None  # the network alone is enough to draw it
    pictures = param.picture(height, width).cpu()  # [B, C, height, width]
    picture = pictures if pictures.shape[0] == 1 else grid(flatten_alpha(pictures))
    # The file keeps the visualization's recipe (which replays the original) and the network (which this is).
    saved = save_output(output, picture, recipe, network)
    say(f"wrote {saved} ({width}x{height}, re-rendered from the network in {image})")
