"""``reverie dream photos/ -o out/``: every photo of a folder dreamed with one recipe, resumable, in this
process or on a Ray cluster."""
from __future__ import annotations

# Modules that load torch are imported inside the commands, not here: `reverie --help` must answer in
# well under a second (bench/startup.py).
from pathlib import Path
from typing import Annotated

import typer

from reverie.cli.common import say, stderr
from reverie.cli.progress import progress_bar
from reverie.cli.task import STOPPED, ctrl_c_stops
from reverie.errors import ReverieError

ExecutorOption = Annotated[str | None, typer.Option(help="With a folder of photos: local (default) or ray.", show_default=False)]
AddressOption = Annotated[str | None, typer.Option(help="With --executor ray: the cluster to join (auto, HOST:PORT, ray://HOST:PORT).", show_default=False)]
WorkersOption = Annotated[int | None, typer.Option(help="With --executor ray: how many Ray workers.", show_default=False)]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def refuse_executor_flags(executor: str | None, address: str | None, workers: int | None) -> None:
    given = [flag for flag, value in (("--executor", executor), ("--address", address), ("--workers", workers))
             if value is not None]
    if given:
        raise ReverieError(f"{', '.join(given)} only work with a folder of photos as INPUT")


def dream_photos(folder: Path, output: Path, recipe, *, executor: str | None, address: str | None,
                 workers: int | None, device: str, quiet: bool) -> None:
    """Dream every photo of ``folder`` into ``output`` with ``recipe`` (see :func:`reverie.batch.dream_folder`)."""
    from reverie.batch import dream_folder
    from reverie.executors import make_executor

    if output.suffix.lower() in IMAGE_SUFFIXES:
        raise ReverieError(f"for a folder of photos, -o names a folder, not an image ({output}); e.g. -o dreams/")
    runner = make_executor(executor or "local", address=address, device=device, workers=workers)
    with ctrl_c_stops() as stop, progress_bar("dreaming", quiet, stderr) as progress:
        report = dream_folder(folder, output, recipe, executor=runner, device=device, progress=progress, stop=stop)
    for line in report.skipped[:5]:
        say(f"note: skipped {line}")
    if len(report.skipped) > 5:
        say(f"note: skipped {len(report.skipped) - 5} more files that are not readable images")
    done = len(report.dreamed) + len(report.reused)
    if report.stopped:
        say(f"reverie: stopped; {done} dreams are finished in {output}; run the same command again to continue")
        raise SystemExit(STOPPED)
    say(f"wrote {len(report.dreamed)} dreams to {output} ({len(report.reused)} already there"
        f"{f', {len(report.skipped)} files skipped' if report.skipped else ''})")
