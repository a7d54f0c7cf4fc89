"""``reverie studio``: start the local web app."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from reverie.cli.common import DeviceOption
from reverie.errors import ReverieError


def studio(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 7860,
    host: Annotated[str, typer.Option(help="Address to listen on; anything but loopback lets other machines in.")] = "127.0.0.1",
    model: Annotated[str, typer.Option(help="Model name, module:callable, or .pt2 torch.export file.")] = "efficientnet-lite0",
    weights: Annotated[Optional[str], typer.Option(help="State-dict file to load into the model.")] = None,
    normalize: Annotated[str, typer.Option(help="Input normalization the model expects (none, imagenet, inception).")] = "none",
    folder: Annotated[Path, typer.Option(help="The studio's folder: uploads, results, frames, thumbnail cache.")] = Path("reverie-studio"),
    atlas: Annotated[Optional[Path], typer.Option(help="An atlas folder (reverie atlas build) whose images the layers tab shows.")] = None,
    device: DeviceOption = "auto",
) -> None:
    """Reverie Studio: a local web app with live previews, stop, drag-and-drop replay and a channel browser."""
    import importlib.util

    if importlib.util.find_spec("gradio") is None:
        raise ReverieError("the studio needs Gradio: pip install 'reverie[studio]'")
    # Imported here: Gradio takes seconds to import and only this command needs it.
    from reverie.models import ModelSpec, load_model
    from reverie.studio.server import start

    spec = ModelSpec(model, weights, normalize)
    load_model(spec, "cpu")  # a model that cannot load fails here, as one line, before any server starts
    start(folder, spec, host, port, device, atlas=atlas)
