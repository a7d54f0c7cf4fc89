"""Building an atlas: plan every output, skip what is on disk, render the rest, then write the manifest
and the site.

A build is resumable by construction. The plan is a fixed list of batches; an output's file name
carries its key; a batch counts as done when every one of its outputs has its file and its journal
record. Killing a build at any moment loses at most the batches in flight (files are renamed into
place whole, and a batch's record is written after its images), and running it again renders exactly
those, with the same batches, so the atlas ends the same as an uninterrupted build.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import nn

from reverie.atlas.examples import (
    DATASET_SIDE,
    TOP_K,
    DatasetExamples,
    dataset_files,
    dataset_key,
    find_examples,
    write_crops,
)
from reverie.atlas.manifest import (
    append_records,
    compact_records,
    pyarrow,
    read_records,
    write_manifest,
)
from reverie.atlas.plan import AtlasSettings, Batch, Plan, model_hash, plan
from reverie.atlas.site import write_site
from reverie.atlas.work import Rendered, RenderWork
from reverie.engine.batch_size import measured_batch
from reverie.engine.progress import ProgressCallback, StopSignal, Tracker
from reverie.errors import ReverieError
from reverie.executors import LocalExecutor, make_executor
from reverie.io.atomic import atomic_path
from reverie.models import ModelSpec, model_on_device, resolve_device
from reverie.pipelines.prepare import model_field
from reverie.recipe import MAX_BATCH
from reverie.version import __version__

INFO = "atlas.json"
FORMAT = 1  # of atlas.json and the folder layout


@dataclass(frozen=True)
class BuildReport:
    """What a build did: how many images it rendered and found done, and what it noticed."""

    folder: Path
    rendered: int            # images rendered by this run
    reused: int              # images already on disk from an earlier run
    total: int               # images in the plan
    stopped: bool            # a stop signal ended it early (finished batches are kept)
    flagged: dict[str, list[int]]  # layer -> units flagged dead or grey
    dataset_images: int = 0
    skipped_files: tuple[str, ...] = ()

    @property
    def index(self) -> Path:
        return self.folder / "index.html"


def _read_info(folder: Path) -> dict | None:
    path = folder / INFO
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ReverieError(f"{path} is not readable atlas information; remove it or pass --force") from None
    if not isinstance(info, dict) or "model_hash" not in info:
        raise ReverieError(f"{path} is not an atlas.json written by Reverie; remove it or pass --force")
    return info


def check_folder(folder: Path, digest: str, spec: ModelSpec, force: bool) -> None:
    """Refuse (unless ``force``) a folder that holds another model's atlas, or other files."""
    if folder.exists() and not folder.is_dir():
        raise ReverieError(f"output folder is a file: {folder}")
    if force or not folder.exists():
        return
    info = _read_info(folder)
    if info is None:
        if any(folder.iterdir()):
            raise ReverieError(f"{folder} is not empty and holds no atlas; choose an empty folder or pass --force")
        return
    if info["model_hash"] != digest:
        raise ReverieError(f"{folder} holds the atlas of another model ({str(info.get('model'))[:80]}, weights "
                           f"{str(info['model_hash'])[:12]}; this is {spec.name[:80]}, {digest[:12]}); "
                           "choose another folder or pass --force")


def _measured_batch(folder: Path, settings: AtlasSettings, model: nn.Module, force: bool) -> int:
    """``--batch 0``: the batch this folder's atlas was begun with, else the one measured fastest for the
    last layer listed at the atlas's size on the planning model's device (engine.batch_size)."""
    info = None if force or not folder.is_dir() else _read_info(folder)
    stored = (info or {}).get("settings", {}).get("batch")
    if isinstance(stored, int) and stored > 0:
        return stored
    parameter = next(iter(model.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    return measured_batch(model, [settings.layers[-1]], settings.size, settings.size, MAX_BATCH, device)


def _write_info(folder: Path, spec: ModelSpec, digest: str, settings: AtlasSettings, dataset: str | None) -> dict:
    info = {"format": FORMAT, "model": spec.name, "weights": spec.weights, "normalize": spec.normalize,
            "model_hash": digest, "settings": asdict(settings), "dataset": dataset, "version": __version__}
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / INFO) as temporary:
        temporary.write_text(json.dumps(info, indent=1, sort_keys=True), encoding="utf-8")
    return info


def _done(folder: Path, batch: Batch, records: dict) -> bool:
    return all(output.key in records and (folder / output.file).is_file() for output in batch.outputs)


def _record(rendered: Rendered) -> dict:
    output = rendered.output
    return {"key": output.key, "layer": output.layer, "unit": output.unit, "variant": output.variant,
            "file": output.file, "recipe_hash": output.recipe_hash, "activation": rendered.activation,
            "baseline": rendered.baseline, "gain": rendered.gain, "std": rendered.std,
            "dead": rendered.dead, "grey": rendered.grey}


def _save(folder: Path, rendered: list[Rendered]) -> None:
    """A batch's images (each with the recipe that replays it), then its journal record."""
    for item in rendered:
        path = folder / item.output.file
        path.parent.mkdir(parents=True, exist_ok=True)
        item.result.save(path)
    append_records(folder, rendered[0].output.key, [_record(item) for item in rendered])


def _examples(folder: Path, dataset: str, model: nn.Module, the_plan: Plan, side: int, top_k: int,
              device: torch.device, progress: ProgressCallback | None, stop: StopSignal | None
              ) -> DatasetExamples | None:
    """The dataset pass, or its saved result when the same model, layers and files were passed before."""
    files = dataset_files(dataset)
    key = dataset_key(the_plan.model_hash, list(the_plan.layers), side, top_k, Path(dataset), files)
    path = folder / "examples" / f"{key}.json"
    if path.is_file():
        try:
            return DatasetExamples.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # damaged: pass over the photos again
    found = find_examples(model, dataset, list(the_plan.layers), key=key, side=side, top_k=top_k, device=device,
                          progress=Tracker(progress, stop) if progress is not None else None, stop=stop)
    if found is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as temporary:
            temporary.write_text(found.to_json(), encoding="utf-8")
    return found


def _manifest_rows(spec: ModelSpec, the_plan: Plan, records: dict, examples: dict) -> list[dict]:
    rows: dict[tuple[str, int], dict] = {}
    for output in the_plan.outputs:
        record = records[output.key]
        row = rows.setdefault((output.layer, output.unit), {
            "model": spec.name, "model_hash": the_plan.model_hash, "layer": output.layer, "unit": output.unit,
            "negative_image": None, "negative_activation": None, "negative_gain": None, "diversity_image": None,
            "examples": examples.get((output.layer, output.unit), [])})
        if output.variant == "unit":
            row.update(key=output.key, recipe_hash=output.recipe_hash, image=output.file,
                       activation=record["activation"], baseline=record["baseline"], gain=record["gain"],
                       image_std=record["std"], dead=record["dead"], grey=record["grey"])
        elif output.variant == "negative":
            row.update(negative_image=output.file, negative_activation=record["activation"],
                       negative_gain=record["gain"])
        else:
            row["diversity_image"] = output.file
    return list(rows.values())


def build_atlas(folder: str | os.PathLike, settings: AtlasSettings, *,
                model: str | ModelSpec | nn.Module = "efficientnet-lite0", dataset: str | os.PathLike | None = None,
                executor: str | object = "local", device: str = "auto", force: bool = False,
                top_k: int = TOP_K, dataset_side: int = DATASET_SIDE,
                progress: ProgressCallback | None = None, stop: StopSignal | None = None) -> BuildReport:
    """Build (or finish) the atlas of ``model`` in ``folder``; see the module docstring.

    ``executor``: ``"local"`` (this process), ``"ray"`` (a local Ray instance) or an executor object
    (``reverie.executors.RayExecutor(address=...)``). ``progress`` gets :class:`reverie.Progress`
    events (the dataset pass, then the rendering); ``stop`` (anything with ``is_set()``) ends the build
    after the batches in flight, keeping every finished one.
    """
    pyarrow()  # the one-line "install reverie[atlas]" before any work
    folder = Path(folder)
    spec, module = model_field(model)
    planning_model, _ = model_on_device(spec, module, "cpu" if module is None else "auto")
    digest = model_hash(spec, planning_model)
    check_folder(folder, digest, spec, force)
    if settings.batch == 0:  # (a plan first: it checks the layers before anything is measured on them)
        plan(spec, planning_model, replace(settings, batch=1), digest)
        settings = replace(settings, batch=_measured_batch(folder, settings, planning_model, force))
    the_plan = plan(spec, planning_model, settings, digest)
    if dataset is not None:
        dataset_files(dataset)  # a missing or empty folder is refused before anything is written
    runner = executor if not isinstance(executor, str) else make_executor(executor, device=device)
    local = isinstance(runner, LocalExecutor)
    # What runs here (the dataset pass; the renders too, locally) runs on --device; with Ray, --device
    # names the workers' devices, and this machine uses what it has.
    here = resolve_device(device if local else "auto")
    info = _write_info(folder, spec, digest, settings, None if dataset is None else str(dataset))

    examples_found = None
    if dataset is not None:
        data_device = here if module is None else next(planning_model.parameters()).device
        data_model = planning_model if module is not None or data_device.type == "cpu" else \
            model_on_device(spec, None, data_device)[0]
        examples_found = _examples(folder, str(dataset), data_model, the_plan, dataset_side, top_k, data_device,
                                   progress, stop)
        if examples_found is None:  # stopped during the pass
            return BuildReport(folder, 0, 0, len(the_plan.outputs), True, {})

    records = read_records(folder)
    todo = [batch for batch in the_plan.batches if not _done(folder, batch, records)]
    reused = sum(len(batch.outputs) for batch in the_plan.batches) - sum(len(batch.outputs) for batch in todo)
    local_model = module if module is not None else (planning_model if here.type == "cpu" else None)
    work = RenderWork(spec, local_model if local else module, device)
    tracker = Tracker(progress, stop)
    rendered = 0
    with runner:
        for _batch, results in runner.map(work, todo, tracker if progress is not None else None, stop):
            _save(folder, results)
            rendered += len(results)
    finished = rendered + reused == len(the_plan.outputs)
    if not finished:
        return BuildReport(folder, rendered, reused, len(the_plan.outputs), True, {})

    records = read_records(folder)
    compact_records(folder)
    crops = {}
    if examples_found is not None:
        crops = write_crops(examples_found, dataset, folder, the_plan.layers)
    rows = _manifest_rows(spec, the_plan, records, crops)
    write_manifest(folder, rows)
    write_site(folder, info, rows)
    flagged: dict[str, list[int]] = {}
    for row in rows:
        if row["dead"] or row["grey"]:
            flagged.setdefault(row["layer"], []).append(row["unit"])
    return BuildReport(folder, rendered, reused, len(the_plan.outputs), False, flagged,
                       examples_found.images if examples_found else 0,
                       examples_found.skipped if examples_found else ())
