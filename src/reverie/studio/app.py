"""Reverie Studio: the Gradio app. A page per task, a drop zone that restores any output's controls,
the layer and channel browser, and the history of this session's results.

Nothing here computes an image: the pages build a recipe, :class:`reverie.studio.runs.Run` runs it
through the task API, and the result is served as the file Reverie wrote (Gradio would re-encode an
image array as WebP and drop its recipe).
"""
from __future__ import annotations

import inspect
import logging
import threading
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from reverie.errors import ReverieError
from reverie.expressions import quote_name
from reverie.imaging import SAMPLES, sample
from reverie.io.frames import FrameFolder, finished_frames, write_gif
from reverie.io.images import read_image, save_image
from reverie.io.video import write_mp4
from reverie.io.meshes import save_textured_mesh
from reverie.models import ModelSpec
from reverie.models.loading import MODELS
from reverie.objectives import parse_objective
from reverie.pipelines.frame_folder import read_folder_recipe
from reverie.pipelines.result import ImageResult, TextureResult
from reverie.recipe import Recipe, confined
from reverie.studio import channels
from reverie.studio.controls import recipe_from, values_from
from reverie.studio.folder import StudioFolder
from reverie.studio.inputs import UPLOAD, page_value, recipe_value
from reverie.studio.pages import TITLES, Page, build_page, message_html
from reverie.studio.runs import Run
from reverie.studio.shelf import ModelShelf
from reverie.tasks import TASKS, read_recipe

log = logging.getLogger("reverie.studio")
DRAFT_SIDE = 96          # px: the animation draft's long side
DRAFT_FRAMES = 12
DEFAULT_SPEC = ModelSpec()  # the embedded model
CPPN_LR = 0.005          # the command line's default for --param cppn (see reverie.cli.visualize)
CSS = """
.reverie-message { color: var(--error-text-color, #b91c1c); font-weight: 600; margin: 0; }
#drop { min-height: 0; }
"""


def _open_clip_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("open_clip") is not None


class Studio:
    """The app's state shared by every browser tab: the folder, the loaded models, the runs by
    session (so Stop finds its run), and the results made since the studio started."""

    def __init__(self, folder: str | Path, model: ModelSpec = DEFAULT_SPEC, device: str = "auto",
                 thumbnail_side: int = channels.THUMBNAIL_SIDE, thumbnail_steps: int = channels.THUMBNAIL_STEPS,
                 atlas: str | Path | None = None):
        self.folder = StudioFolder(folder)
        self.atlas = None
        if atlas is not None:  # its images serve as channel thumbnails; reading one needs reverie[atlas]
            from reverie.atlas import open_atlas

            self.atlas = open_atlas(atlas)
        if self.atlas is not None and self.atlas.model != model.name:
            raise ReverieError(f"the atlas in {atlas} maps {self.atlas.model}, not {model.name}; start the studio "
                               f"with --model {self.atlas.model}, or open an atlas of {model.name}")
        self.thumbnail_side, self.thumbnail_steps = thumbnail_side, thumbnail_steps
        self.shelf = ModelShelf(model, device)
        self.device = self.shelf.device
        self.runs: dict[str, Run] = {}
        self.history: list[tuple[str, str]] = []   # (file, caption), newest first
        self.prompts = _open_clip_installed()
        self._lock = threading.Lock()
        self.pages: dict[str, Page] = {}

    # -- running a page ------------------------------------------------------------------------------

    def recipe_of(self, page: Page, values: list[Any], stopped_at) -> Recipe:
        """The recipe a page's current values describe (files stored in the studio's inputs)."""
        files: dict[str, str | None] = {}
        index = 0
        for widgets in page.files:
            if widgets.pick is not None:
                pick, upload = values[index], values[index + 1]
                index += 2
            else:
                pick, upload = None, values[index]
                index += 1
            files[widgets.item.field] = recipe_value(widgets.item, pick, upload, self.folder)
        controls = dict(zip([control.path for control in page.controls], values[index:]))
        recipe = recipe_from(page.kind, controls, files, stopped_at, self.folder.inputs)
        return replace(recipe, model=self.shelf.spec(recipe.model.name, recipe.model.normalize))

    def options_for(self, recipe: Recipe) -> dict[str, Any]:
        """What the task's run needs beyond the recipe: the loaded model, where its inputs are, and
        where a frame task writes."""
        options: dict[str, Any] = {"model": self.shelf.get(recipe.model.name, recipe.model.normalize)}
        accepted = inspect.signature(TASKS[recipe.KIND].run).parameters
        if "recipe_folder" in accepted:
            options["recipe_folder"] = self.folder.inputs
        if recipe.KIND == "animate":
            options["output_dir"] = self.folder.frames_folder("animate")
        if recipe.KIND == "video":
            options["output"] = self.folder.result_path("video", ".mp4")
            options["frames_dir"] = self.folder.frames_folder("video")
        return options

    def keep(self, recipe: Recipe, result) -> tuple[str, list[str], str | None]:
        """Save a finished (or stopped) result: (what the result widget shows, files to download,
        a 3D model for the viewer)."""
        kind = recipe.KIND
        if kind == "animate":
            if finished_frames(result.folder) == 0:
                raise ReverieError("the animation was stopped before its first frame was finished: nothing to keep")
            frames = FrameFolder(result.folder)
            mp4 = write_mp4(self.folder.result_path("animate", ".mp4"), frames, fps=result.recipe.fps,
                            recipe_json=result.recipe.to_json())
            gif = write_gif(mp4.with_suffix(".gif"), frames, fps=min(result.recipe.fps, 50),
                            delay=result.recipe.gif_delay)
            return str(mp4), [str(mp4), str(gif)], None
        if kind == "video":
            output = result.output
            if output is None:
                raise ReverieError("the video was stopped before its first frame was finished: nothing to keep")
            return str(output), [str(output)], None
        saved = result.save(self.folder.result_path(kind))
        files, viewer = [str(saved)], None
        if kind == "interpolate" and isinstance(result, ImageResult):
            gif = write_gif(saved.with_suffix(".gif"), result.images, fps=8)
            files.append(str(gif))
        if isinstance(result, TextureResult) and result.mesh is not None:
            glb = save_textured_mesh(result.mesh, result.texture, saved.with_suffix(".glb"))
            files.append(str(glb))
            viewer = str(glb)
        return str(saved), files, viewer

    def run_page(self, page: Page, session: str, stopped_at, *values):
        """The Run button: stream previews and status, then the saved result."""
        try:
            recipe = self.recipe_of(page, list(values), stopped_at)
            options = self.options_for(recipe)
        except ReverieError as error:
            yield {page.message: message_html(str(error)), page.status: "not started"}
            return
        yield from self.stream(page, session, recipe, options)

    def unfinished(self, kind: str) -> list[str]:
        """Frame folders of ``kind`` that were stopped before their last frame, newest first."""
        found = []
        for folder in sorted(self.folder.frames.glob(f"{kind}-*"), key=lambda path: path.stat().st_mtime, reverse=True):
            try:
                recipe = read_folder_recipe(folder, TASKS[kind].recipe)
            except ReverieError:
                continue
            total = getattr(recipe, "frames", None) if recipe is not None else None
            if recipe is not None and (total is None or finished_frames(folder) < total):
                found.append(folder.name)
        return found

    def resume_page(self, page: Page, session: str, name: str | None):
        """The Resume button: continue a stopped animation or video in its own frame folder."""
        try:
            if not name or name not in self.unfinished(page.kind):
                raise ReverieError(f"pick an unfinished {page.kind} to resume (none is stopped part-way)")
            folder = self.folder.frames / name
            # the files it names are the studio's inputs: confined to that folder, not the frames folder
            recipe = confined(read_folder_recipe(folder, TASKS[page.kind].recipe), self.folder.inputs)
            recipe = replace(recipe, model=self.shelf.spec(recipe.model.name, recipe.model.normalize))
            options = self.options_for(recipe)
            options["resume"] = True
            options["output_dir" if page.kind == "animate" else "frames_dir"] = folder
        except ReverieError as error:
            yield {page.message: message_html(str(error)), page.status: "not started"}
            return
        yield from self.stream(page, session, recipe, options)

    def stream(self, page: Page, session: str, recipe: Recipe, options: dict):
        """Run ``recipe``, yielding page updates: previews and status while it runs, then the result."""
        try:
            run = Run(recipe, device=str(self.device), **options)
        except ReverieError as error:
            yield {page.message: message_html(str(error)), page.status: "not started"}
            return
        with self._lock:
            self.runs[session] = run
        yield {page.message: "", page.status: "starting", page.result: None, page.download: None, page.recipe: ""}
        for snapshot in run.snapshots():
            update: dict = {page.status: snapshot.status}
            if snapshot.preview is not None:
                update[page.preview] = snapshot.preview
            yield update
        if run.error is not None:
            yield {page.message: message_html(run.error), page.status: "failed"}
            return
        result = run.result
        try:
            shown, files, viewer = self.keep(run.recipe, result)
        except ReverieError as error:
            yield {page.message: message_html(str(error)), page.status: "stopped"}
            return
        caption = f"{page.kind}{' (stopped)' if result.stopped else ''}"
        with self._lock:
            self.history.insert(0, (files[-1] if page.kind == "animate" else files[0], caption))
        stopped = result.recipe.stopped_at
        status = (f"stopped after {stopped.after} {stopped.unit}s ({stopped.stage}); the work so far is kept"
                  if result.stopped and stopped is not None else "done")
        update = {page.message: "", page.status: status, page.result: shown, page.download: files,
                  page.recipe: result.recipe.to_json()}
        if page.viewer is not None:
            update[page.viewer] = viewer
        if "unfinished" in page.extras:
            choices = self.unfinished(page.kind)
            update[page.extras["unfinished"]] = gr.Dropdown(choices=choices, value=choices[0] if choices else None)
        yield update

    def stop(self, session: str) -> None:
        run = self.runs.get(session)
        if run is not None:
            run.stop()

    # -- restoring a dropped file ------------------------------------------------------------------

    def restore(self, dropped) -> dict:
        """A dropped output or recipe file: switch to its task and set every control from it."""
        path = dropped if isinstance(dropped, str) else getattr(dropped, "name", None)
        if not path:
            return {}
        try:
            recipe = read_recipe(path)  # reads only the dropped file; files it names are looked up below
            page = self.pages.get(recipe.KIND)
            if page is None:
                raise ReverieError(f"the studio has no page for {recipe.KIND} recipes")
            self.shelf.spec(recipe.model.name, recipe.model.normalize)  # the studio's own models only
            update: dict = {}
            source_path = None
            for widgets in page.files:
                name = getattr(recipe, widgets.item.field, None)
                pick, upload = page_value(widgets.item, name, self.folder, source_path)
                if widgets.item.field in ("source", "content") and pick == UPLOAD:
                    source_path = upload
                if widgets.pick is not None:
                    update[widgets.pick] = pick
                update[widgets.upload] = upload
            for path_, value in values_from(recipe).items():
                if path_ in page.widgets:
                    update[page.widgets[path_]] = value
            update[page.stopped_at] = recipe.stopped_at
            article = "an" if recipe.KIND[0] in "aeiou" else "a"
            note = f"restored {article} {recipe.KIND} recipe" + (
                f" (it stopped after {recipe.stopped_at.after} {recipe.stopped_at.unit}s: Run stops there too)"
                if recipe.stopped_at else "")
            update[self.drop_message] = f'<p class="reverie-note">{note}</p>'
            update[self.tabs] = gr.Tabs(selected=recipe.KIND)
            return update
        except ReverieError as error:
            return {self.drop_message: message_html(str(error))}

    # -- the layer and channel browser ---------------------------------------------------------------

    def browse(self, layer: str, first: float, photo: str | None, rank: bool):
        """Render (or read from the cache) a page of channel thumbnails; with ``rank`` and a photo,
        the channels that photo excites most."""
        model = self.shelf.get(self.shelf.launch.name, self.shelf.launch.normalize)
        spec = self.shelf.spec(self.shelf.launch.name, self.shelf.launch.normalize)
        try:
            info = channels.layer_named(model, layer)
            if rank:
                if not photo:
                    raise ReverieError("upload a photo to rank the channels by")
                ranked = channels.ranked_channels(model, layer, read_image(photo))
                wanted = [channel for channel, _ in ranked]
                notes = {channel: f"channel {channel} · {mean:.3g}" for channel, mean in ranked}
            else:
                start = int(first or 0)
                if not 0 <= start < info.channels:
                    raise ReverieError(f"first channel must be from 0 to {info.channels - 1}, got {start}")
                wanted = list(range(start, min(start + channels.PAGE, info.channels)))
                notes = {channel: f"channel {channel}" for channel in wanted}
        except ReverieError as error:
            yield {self.browser_message: message_html(str(error))}
            return
        yield {self.browser_message: "", self.browser_status: f"rendering {len(wanted)} channels of {layer}"}
        done = threading.Event()
        found: list = []
        failure: list[str] = []
        latest: list[str] = []

        def work():
            try:
                found.extend(channels.thumbnails(model, spec, layer, wanted, self.folder.thumbnails,
                                                 side=self.thumbnail_side, steps=self.thumbnail_steps,
                                                 progress=lambda event: latest.append(
                                                     f"{event.stage} step {event.step}/{event.steps}")))
            except ReverieError as error:
                failure.append(str(error))
            finally:
                done.set()
        threading.Thread(target=work, daemon=True).start()
        while not done.wait(0.5):
            if latest:
                yield {self.browser_status: latest[-1]}
        if failure:
            yield {self.browser_message: message_html(failure[0])}
            return
        self.browsed = (layer, [thumbnail.channel for thumbnail in found])
        yield {self.browser_message: "",
               self.gallery: [(str(thumbnail.path), notes[thumbnail.channel]) for thumbnail in found],
               self.browser_status: f"{len(found)} channels of {layer} (click one to visualize it)"}

    def browse_atlas(self, layer: str):
        """A layer's units from the opened atlas: their visualizations as the channel thumbnails."""
        try:
            if self.atlas is None:
                raise ReverieError("no atlas is open (start the studio with --atlas FOLDER)")
            units = self.atlas.layers.get(layer)
            if units is None:
                raise ReverieError(f"the atlas has no layer '{layer}' (it has {', '.join(self.atlas.layers)})")
        except ReverieError as error:
            return {self.browser_message: message_html(str(error))}
        self.browsed = (layer, [unit.unit for unit in units])
        flags = {True: " (dead)", False: ""}
        return {self.browser_message: "",
                self.browser_status: f"{len(units)} units of {layer} from the atlas (click one to visualize it)",
                self.gallery: [(str(unit.image), f"channel {unit.unit}{flags[unit.dead or unit.grey]}")
                               for unit in units]}

    def pick_channel(self, event: gr.SelectData):
        layer, shown = getattr(self, "browsed", ("", []))
        if event.index is None or not 0 <= event.index < len(shown):
            return {}
        objective = f"channel({quote_name(layer)}, {shown[event.index]})"
        update = {self.tabs: gr.Tabs(selected="visualize")}
        visualize = self.pages.get("visualize")
        if visualize is not None:
            update[visualize.widgets["objective"]] = objective
            update[visualize.widgets["layer"]] = ""
            update[visualize.widgets["channels"]] = ""
        dream = self.pages.get("dream")
        if dream is not None:
            update[dream.widgets["objective"]] = objective
        return update

    # -- history ------------------------------------------------------------------------------------

    def history_items(self) -> list[tuple[str, str]]:
        return [(path, caption) for path, caption in self.history
                if Path(path).suffix.lower() in (".png", ".gif", ".mp4")]

    def compare(self, first: str | None, second: str | None):
        pictures = [path for path, _ in self.history_items() if path.endswith(".png")]
        if first is None and len(pictures) >= 2:
            first, second = pictures[1], pictures[0]
        if not first or not second:
            return None
        return (first, second)


def _default_values(kind: str, shelf: ModelShelf) -> dict[str, Any]:
    """Page defaults where the command line has none: a visualization needs something to maximise."""
    if kind != "visualize":
        return {}
    entry = MODELS.get(shelf.launch.name)
    layer = entry.default_layers[0] if entry else ""
    return {"objective": f"channel({quote_name(layer)}, 7)"} if layer else {}


def _visualize_modes(page: Page, layer_default: str) -> None:
    """Single image, contact sheet or diversity batch: a choice that fills the controls it needs."""
    mode = gr.Radio(["single", "contact sheet", "diversity batch"], value="single", label="what to make",
                    elem_id="visualize-mode")
    page.extras["mode"] = mode

    def fill(choice: str, objective: str):
        layer = layer_default
        try:
            layers = parse_objective(objective).layers if objective.strip() else ()
            layer = next(iter(layers), layer_default)
        except ReverieError:
            pass
        target = f"channel({quote_name(layer)}, 7)"
        if choice == "contact sheet":
            return "", layer, "0, 1, 2, 3, 4, 5, 6, 7", 1
        if choice == "diversity batch":
            # 300: the weight README recommends now that diversity counts on the first half of the steps
            return f"{target} + 300*diversity({quote_name(layer)})", "", "", 4
        return target, "", "", 1
    mode.change(fill, [mode, page.widgets["objective"]],
                [page.widgets["objective"], page.widgets["layer"], page.widgets["channels"], page.widgets["batch"]],
                queue=False, api_visibility="private")

    def cppn_rate(param: str, lr: float):
        return CPPN_LR if param == "cppn" and lr == 0.05 else 0.05 if param != "cppn" and lr == CPPN_LR else lr
    page.widgets["param"].change(cppn_rate, [page.widgets["param"], page.widgets["settings.lr"]],
                                 page.widgets["settings.lr"], queue=False, api_visibility="private")


def _resume_controls(studio: Studio, page: Page, session: gr.State) -> None:
    """Pick a stopped animation or video and continue it where it stopped (its finished frames kept)."""
    with gr.Row():
        choices = studio.unfinished(page.kind)
        unfinished = gr.Dropdown(choices, value=choices[0] if choices else None, label="stopped renders",
                                 elem_id=f"{page.kind}-unfinished")
        resume = gr.Button("Resume", elem_id=f"{page.kind}-resume")
    page.extras["unfinished"] = unfinished

    def go(session_id, name):
        yield from studio.resume_page(page, session_id, name)
    outputs = [page.message, page.status, page.preview, page.result, page.download, page.recipe, unfinished]
    resume.click(go, [session, unfinished], outputs, concurrency_limit=1, concurrency_id="device",
                 show_progress="minimal", show_progress_on=[page.status], api_name=f"resume_{page.kind}")


def _animation_draft(studio: Studio, page: Page, session: gr.State) -> None:
    """A fast, small draft of an animation (long side DRAFT_SIDE px, DRAFT_FRAMES frames) as a GIF."""
    draft = gr.Button("Draft (small and quick)", elem_id="animate-draft")
    shown = gr.Image(label="draft", type="filepath", interactive=False, elem_id="animate-draft-result", height=200)
    page.extras["draft"] = shown

    def make(session_id, stopped_at, *values):
        try:
            recipe = studio.recipe_of(page, list(values), None)
            size = recipe.size or (DRAFT_SIDE, DRAFT_SIDE)
            scale = DRAFT_SIDE / max(size)
            recipe = replace(recipe, frames=min(recipe.frames, DRAFT_FRAMES),
                             size=(max(16, round(size[0] * scale)), max(16, round(size[1] * scale))),
                             settings=replace(recipe.settings, octaves=min(recipe.settings.octaves, 2),
                                              min_octave_size=16))
            options = {**studio.options_for(recipe), "output_dir": studio.folder.frames_folder("draft")}
            run = Run(recipe, device=str(studio.device), **options)
        except ReverieError as error:
            yield {page.message: message_html(str(error))}
            return
        studio.runs[session_id] = run   # Stop stops a draft too
        yield {page.message: ""}
        for snapshot in run.snapshots():
            yield {page.status: f"draft: {snapshot.status}"}
        if run.error is not None:
            yield {page.message: message_html(run.error)}
            return
        if finished_frames(run.result.folder) == 0:
            yield {page.message: message_html("the draft was stopped before its first frame: nothing to show"),
                   page.status: "stopped"}
            return
        gif = write_gif(studio.folder.result_path("draft", ".gif"), FrameFolder(run.result.folder),
                        fps=min(recipe.fps, 50), delay=recipe.gif_delay)
        yield {shown: str(gif), page.message: "", page.status: "draft done: Run makes the full animation"}
    draft.click(make, [session, page.stopped_at, *page.file_components(), *page.control_components()],
                [shown, page.status, page.message], concurrency_limit=1, concurrency_id="device",
                show_progress="minimal", show_progress_on=[page.status], api_name="draft_animate")


def build_app(studio: Studio) -> gr.Blocks:
    """The whole studio as a Gradio Blocks app (not launched)."""
    model_names = studio.shelf.names
    launch = studio.shelf.launch.name
    with gr.Blocks(title="Reverie Studio", analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        session = gr.State(lambda: uuid.uuid4().hex)
        gr.Markdown("## Reverie Studio\nDream, visualize and animate on "
                    f"**{launch}**. Drop any Reverie output or recipe below to restore its controls.",
                    elem_id="title")
        with gr.Row():
            drop = gr.File(label="drop a Reverie PNG, MP4 or recipe JSON here", file_count="single",
                           file_types=[".png", ".jpg", ".jpeg", ".webp", ".json", ".mp4"], elem_id="drop",
                           height=120, scale=2)
            studio.drop_message = gr.HTML(elem_id="drop-message", scale=3)
        with gr.Tabs(elem_id="tasks") as studio.tabs:
            for kind in TASKS:
                with gr.Tab(TITLES[kind], id=kind, elem_id=f"tab-{kind}"):
                    page = build_page(kind, model_names, launch, studio.prompts, _default_values(kind, studio.shelf))
                    studio.pages[kind] = page
                    if kind == "visualize":
                        _visualize_modes(page, (MODELS[launch].default_layers[0] if launch in MODELS else ""))
                    if kind == "animate":
                        _animation_draft(studio, page, session)
                    if kind in ("animate", "video"):
                        _resume_controls(studio, page, session)
            with gr.Tab("Layers", id="layers", elem_id="tab-layers"):
                model = studio.shelf.get(launch, studio.shelf.launch.normalize)
                found = channels.layers_of(model)
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2, min_width=320):
                        gr.Dataframe([[info.name, info.kind, info.channels, f"{info.width}x{info.height}"]
                                      for info in found], headers=["layer", "kind", "channels", "output at 224 px"],
                                     type="array", interactive=False, elem_id="layers-table", max_height=300)
                        with gr.Row():
                            layer = gr.Dropdown([info.name for info in found], value=found[len(found) * 2 // 3].name,
                                                label="layer", elem_id="layers-layer")
                            first = gr.Number(0, precision=0, label="first channel", elem_id="layers-first")
                        show = gr.Button("Show channels", variant="primary", elem_id="layers-show")
                        photo = gr.Image(label="your photo: which channels does it excite?", type="filepath",
                                         sources=["upload", "clipboard"], height=180, elem_id="layers-photo")
                        rank = gr.Button("Rank channels by my photo", elem_id="layers-rank")
                        if studio.atlas is not None:
                            atlas_layers = list(studio.atlas.layers)
                            with gr.Row():
                                atlas_layer = gr.Dropdown(atlas_layers, value=atlas_layers[0] if atlas_layers else None,
                                                          label="layer in the atlas", elem_id="layers-atlas-layer")
                                from_atlas = gr.Button("Show from the atlas", elem_id="layers-atlas-show")
                    with gr.Column(scale=3, min_width=320):
                        studio.browser_message = gr.HTML(elem_id="layers-message")
                        studio.browser_status = gr.Textbox(label="progress", interactive=False,
                                                           elem_id="layers-status")
                        studio.gallery = gr.Gallery(label="channels (click one to visualize it)", columns=4,
                                                    height=560, allow_preview=False, elem_id="layers-gallery")
            with gr.Tab("History", id="history", elem_id="tab-history") as history_tab:
                history = gr.Gallery(label="made since the studio started", columns=6, height=300,
                                     object_fit="contain", elem_id="history-gallery")
                with gr.Row():
                    first_pick = gr.Dropdown([], label="before", elem_id="history-before")
                    second_pick = gr.Dropdown([], label="after", elem_id="history-after")
                slider = gr.ImageSlider(label="compare", type="filepath", format="png", elem_id="history-compare",
                                        height=420)

        inputs_of = {kind: [session, page.stopped_at, *page.file_components(), *page.control_components()]
                     for kind, page in studio.pages.items()}
        for kind, page in studio.pages.items():
            outputs = [page.message, page.status, page.preview, page.result, page.download, page.recipe]
            if page.viewer is not None:
                outputs.append(page.viewer)
            if "unfinished" in page.extras:
                outputs.append(page.extras["unfinished"])

            def go(session_id, stopped_at, *values, page=page):
                yield from studio.run_page(page, session_id, stopped_at, *values)
            page.run.click(go, inputs_of[kind], outputs, concurrency_limit=1, concurrency_id="device",
                           show_progress="minimal", show_progress_on=[page.status], api_name=f"run_{kind}")
            page.stop.click(studio.stop, [session], None, queue=False, api_name=f"stop_{kind}")
            # a finished run's stop point applies to one replay only: changing nothing else, Run again
            # replays it; the next edit of a control clears it so the task runs to its end
            for widget in page.control_components():
                widget.input(lambda: None, None, page.stopped_at, queue=False, api_visibility="private")
            for widgets in page.files:
                if widgets.pick is not None:
                    widgets.upload.upload(lambda: UPLOAD, None, widgets.pick, queue=False, api_visibility="private")
            mask = next((widgets.upload for widgets in page.files if widgets.item.kind == "mask"), None)
            source = next((widgets for widgets in page.files if widgets.item.field == "source"), None)
            if mask is not None and source is not None:
                def background(pick, upload, studio=studio):
                    path = upload if pick == UPLOAD else studio_sample(studio, pick)
                    return {"background": path, "layers": [], "composite": None} if path else None
                source.pick.change(background, [source.pick, source.upload], mask, queue=False, api_visibility="private")
                source.upload.change(background, [source.pick, source.upload], mask, queue=False, api_visibility="private")
                app.load(background, [source.pick, source.upload], mask, api_visibility="private")

        restore_outputs = [studio.drop_message, studio.tabs]
        for page in studio.pages.values():
            restore_outputs += [page.stopped_at, *page.file_components(), *page.control_components()]
        drop.upload(studio.restore, drop, restore_outputs, api_name="restore")

        show.click(lambda layer_, first_: (yield from studio.browse(layer_, first_, None, False)), [layer, first],
                   [studio.browser_message, studio.browser_status, studio.gallery], concurrency_limit=1,
                   concurrency_id="device", api_name="channels")
        rank.click(lambda layer_, photo_: (yield from studio.browse(layer_, 0, photo_, True)), [layer, photo],
                   [studio.browser_message, studio.browser_status, studio.gallery], concurrency_limit=1,
                   concurrency_id="device", api_name="rank_channels")
        if studio.atlas is not None:
            from_atlas.click(studio.browse_atlas, atlas_layer, [studio.browser_message, studio.browser_status,
                                                                studio.gallery], queue=False, api_name="atlas_layer")
        visualize, dream = studio.pages.get("visualize"), studio.pages.get("dream")
        picked = [studio.tabs] + ([visualize.widgets["objective"], visualize.widgets["layer"],
                                    visualize.widgets["channels"]] if visualize else []) + (
            [dream.widgets["objective"]] if dream else [])
        studio.gallery.select(studio.pick_channel, None, picked, queue=False, api_visibility="private")

        def refresh_history():
            items = studio.history_items()
            pictures = [(f"{Path(path).name} ({caption})", path) for path, caption in items if path.endswith(".png")]
            return (items, gr.Dropdown(choices=pictures, value=pictures[1][1] if len(pictures) > 1 else None),
                    gr.Dropdown(choices=pictures, value=pictures[0][1] if pictures else None),
                    studio.compare(None, None))
        history_tab.select(refresh_history, None, [history, first_pick, second_pick, slider], queue=False, api_visibility="private")
        first_pick.change(studio.compare, [first_pick, second_pick], slider, queue=False, api_visibility="private")
        second_pick.change(studio.compare, [first_pick, second_pick], slider, queue=False, api_visibility="private")
    return app


def studio_sample(studio: Studio, name: str | None) -> str | None:
    """A bundled sample photo as a PNG in the studio's inputs (the mask editor paints over it)."""
    if name not in SAMPLES:
        return None
    path = studio.folder.inputs / f"sample-{name}.png"
    if not path.exists():
        save_image(path, sample(name))
    return str(path)
