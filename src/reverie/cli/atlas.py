"""``reverie atlas build`` and ``reverie atlas serve``: a model atlas from the command line."""
from __future__ import annotations

# Modules that load torch are imported inside the commands, not here: `reverie --help` must answer in
# well under a second (bench/startup.py).
from pathlib import Path
from typing import Annotated

import typer

from reverie.cli.common import DeviceOption, QuietOption, parse_channels, say, stderr
from reverie.cli.progress import progress_bar
from reverie.cli.task import STOPPED, ctrl_c_stops
from reverie.errors import ReverieError

atlas_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                        help="A Microscope for your own model: every unit of its layers, as a static site.")

SERVE_HOST = "127.0.0.1"  # loopback only: an atlas server is for this machine's browser


@atlas_app.command()
def build(
    output: Annotated[Path, typer.Option("--output", "-o", help="Atlas folder (made if missing; rerun to resume).")],
    layers: Annotated[str, typer.Option("--layers", "-l", help="Layers to map, comma-separated, e.g. blocks.6,blocks.9.")],
    model: Annotated[str, typer.Option(help="Model name, module:callable, or .pt2 torch.export file.")] = "efficientnet-lite0",
    weights: Annotated[str | None, typer.Option(help="State-dict file to load into the model.")] = None,
    normalize: Annotated[str, typer.Option(help="Input normalization the model expects: none, imagenet, inception.")] = "none",
    channels: Annotated[str | None, typer.Option(help="Channels of every layer, e.g. 0-63 or 3,7,9; default all.")] = None,
    dataset: Annotated[Path | None, typer.Option(help="Folder of photos: each unit's top examples, with crops.")] = None,
    negative: Annotated[bool, typer.Option("--negative", help="Also render each unit's negative.")] = False,
    diversity: Annotated[int, typer.Option(help="Also render a diversity batch of this many images per unit (0: none).")] = 0,
    steps: Annotated[int, typer.Option(help="Optimization steps per image.")] = 512,
    size: Annotated[int, typer.Option(help="Side of every image in pixels.")] = 128,
    batch: Annotated[int | None, typer.Option(help="Units rendered together, one per batch item; 0: the number measured fastest here [default: 8].", show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same pixels.")] = 0,
    top_k: Annotated[int | None, typer.Option(help="Dataset examples kept per unit [default: 8].", show_default=False)] = None,
    executor: Annotated[str, typer.Option(help="local (this process) or ray (a Ray cluster; pip install 'reverie[ray]').")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster to join: auto, HOST:PORT or ray://HOST:PORT; default: start a local one.")] = None,
    workers: Annotated[int | None, typer.Option(help="Ray workers [default: one per GPU, else one per 2 CPUs].", show_default=False)] = None,
    cpus_per_worker: Annotated[int | None, typer.Option(help="CPU cores per Ray worker.", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Write into a folder that holds another model's atlas or other files.")] = False,
    device: DeviceOption = "auto", quiet: QuietOption = False,
) -> None:
    """Render every unit of LAYERS (visualization, optional negative, diversity batch and dataset examples)
    into a resumable atlas: PNGs carrying their recipes, a Parquet manifest and a static site."""
    from reverie.atlas import AtlasSettings, build_atlas, make_executor
    from reverie.atlas.examples import TOP_K
    from reverie.atlas.manifest import pyarrow
    from reverie.atlas.plan import DEFAULT_BATCH
    from reverie.models import ModelSpec

    pyarrow()
    names = tuple(dict.fromkeys(name.strip() for name in layers.split(",") if name.strip()))
    settings = AtlasSettings(layers=names, channels=parse_channels(channels) if channels else (), size=size,
                             steps=steps, negative=negative, diversity=diversity,
                             batch=DEFAULT_BATCH if batch is None else batch, seed=seed)
    if top_k is not None and (top_k < 1 or top_k > 100):
        raise ReverieError(f"--top-k must be from 1 to 100, got {top_k}")
    if top_k is not None and dataset is None:
        raise ReverieError("--top-k needs --dataset FOLDER")
    runner = make_executor(executor, address=address, device=device, workers=workers, cpus_per_worker=cpus_per_worker)
    spec = ModelSpec(model, weights, normalize)
    with ctrl_c_stops() as stop, progress_bar("atlas", quiet, stderr) as progress:
        report = build_atlas(output, settings, model=spec, dataset=dataset, executor=runner, device=device,
                             force=force, top_k=TOP_K if top_k is None else top_k, progress=progress, stop=stop)
    if report.skipped_files:
        shown = ", ".join(report.skipped_files[:5]) + (", ..." if len(report.skipped_files) > 5 else "")
        say(f"note: skipped {len(report.skipped_files)} dataset files that are not readable images: {shown}")
    if report.stopped:
        say(f"reverie: stopped; {report.rendered + report.reused} of {report.total} images are finished in "
            f"{output}; run the same command again to continue")
        raise SystemExit(STOPPED)
    for layer, units in report.flagged.items():
        say(f"note: {len(units)} units of {layer} look dead or grey: {','.join(map(str, units))[:400]} "
            f"(rerun them with --layers {layer} --channels ... and more --steps or another --seed)")
    examples = f", {report.dataset_images} dataset photos" if dataset is not None else ""
    say(f"wrote {report.index} ({report.rendered} images rendered, {report.reused} already there{examples}); "
        f"browse it with: reverie atlas serve {output}")


@atlas_app.command()
def serve(
    folder: Annotated[Path, typer.Argument(help="An atlas folder.")],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0: any free port).")] = 8000,
) -> None:
    """Serve an atlas folder on this machine (loopback only) until Ctrl-C."""
    from reverie.atlas.serve import atlas_server

    with atlas_server(folder, port) as server:
        say(f"serving {folder} at http://{SERVE_HOST}:{server.server_port}/index.html (Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            say("stopped")
