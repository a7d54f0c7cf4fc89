"""Render every effect at a small size from its command line, and write docs/gallery.md.

Each entry is a ``reverie ...`` command, run as a subprocess of the CLI of this checkout (so the
page shows what the commands really do), in a scratch folder. Its output (the ``-o`` image, or the
``--gif``, or a video's frames) becomes a small JPEG or GIF in docs/gallery/, and the page lists
each picture with the command that made it. Anyone can re-create the page:

    .venv/bin/python scripts/gallery.py            # about 10 minutes on an idle 2-core CPU
    .venv/bin/python scripts/gallery.py --only cppn  # entries whose title contains a word

More entries: lines ``title | reverie ...`` in docs/gallery-part-a.txt (blank lines and lines
starting with # are skipped), run after the ones below. The command's output is its ``--gif`` (or a
texture's ``--grow``/``--preview``) if it has one, else its ``-o``/``--output``.
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
OUT = DOCS / "gallery"
EXTRA = DOCS / "gallery-part-a.txt"
THUMB_SIDE = 320      # px, the long side of a still in the gallery
GIF_SIDE = 128        # px, the long side of an animation's frames
GIF_FRAMES = 16       # at most this many frames of an animation (evenly picked): the page stays near 2 MB

# (title, command, note). A command may start with "!python" for a helper that prepares an input.
ENTRIES: list[tuple[str, str, str]] = [
    ("DeepDream", "reverie dream --sample chelsea --size 320x240 --octaves 3 --steps 10 -l blocks.9 -o dream.jpg",
     "The classic: amplify what a layer sees, octave by octave."),
    ("Zoom loop", "reverie animate --sample chelsea --size 160x120 --frames 24 --steps 4 -t 'zoom(0.04)' "
                  "-o zoom --gif zoom.gif --fps 8",
     "Each frame zooms into the last and dreams a little more: it keeps inventing."),
    ("Visualization", "reverie visualize -l blocks.9 -c 7 --size 160x160 --steps 192 -o channel.png",
     "One channel's favourite image (Fourier parameterization, decorrelated colour, robustness transforms)."),
    ("Large visualization", "reverie visualize -l blocks.9 -c 7 --size 640x360 --steps 96 -o large.png",
     "Longer than 384 px, the network sees the canvas through views: the whole canvas shrunk and crops "
     "at finer zooms, so the composition has structure at every scale."),
    ("Large visualization, before views", "reverie visualize -l blocks.9 -c 7 --size 640x360 --steps 96 --view 0 "
                                          "-o large-whole.png",
     "The same with the whole canvas at full size: one motif repeated as wallpaper."),
    ("CPPN", "reverie visualize -l blocks.9 -c 7 --param cppn --size 128x128 --steps 192 -o cppn.png",
     "A small network of the pixel coordinates paints the channel; the PNG keeps the network."),
    ("CPPN re-rendered at 5x", "reverie render cppn.png --size 640x640 -o cppn-big.png",
     "The same network drawn on a finer grid: detail, not an upscale (shown here shrunk)."),
    ("Diversity", "reverie visualize -l blocks.9 -c 7 --batch 4 --diversity 300 --size 96x96 --steps 128 "
                  "-o diverse.png",
     "Four images of one channel, pushed apart on the first half of the steps, then each sharpened by the channel."),
    ("Caricature", "reverie caricature chelsea --size 192x144 --steps 128 -o caricature.png",
     "What blocks.8 sees in the photo, exaggerated."),
    ("Style transfer", "reverie style chelsea coffee --size 192x144 --steps 96 -o style.png",
     "The cat painted with the coffee cup's textures."),
    ("Dreamed video", "!python clip.mp4 && reverie dream-video clip.mp4 --size 128x96 -l blocks.6 -o video.mp4 "
                      "--frames-dir video-frames",
     "Each frame starts from the previous frame's dream detail moved along the optical flow "
     "(where forward and backward flows agree)."),
]


def _clip(path: str) -> None:
    """A 12-frame test clip: the chelsea photo panning, written as an MP4 (the video entry's input)."""
    import reverie
    from reverie.imaging import resize
    from reverie.io.video import write_mp4

    frames, shift = 12, 3
    wide = resize(reverie.sample("chelsea"), (96, 128 + shift * frames))
    write_mp4(path, [wide[..., shift * (frames - k): shift * (frames - k) + 128] for k in range(frames)], fps=12)


def _cli(args: list[str], cwd: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-c", "from reverie.cli.main import run; run()", *args, *(["-q"] if _quiet(args) else [])]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"reverie {' '.join(args)} failed:\n{done.stderr.strip()[-2000:]}")


def _quiet(args: list[str]) -> bool:
    return args[0] in ("dream", "animate", "visualize", "caricature", "style", "dream-video", "texture",
                       "interpolate") and "-q" not in args and "--quiet" not in args


def _output(args: list[str]) -> str:
    for flag in ("--gif", "--grow", "--preview", "--frames-dir", "-o", "--output"):
        if flag in args:
            return args[args.index(flag) + 1]
    raise ValueError(f"no output in: reverie {' '.join(args)}")


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _still(source: Path, target: Path) -> Path:
    from PIL import Image

    with Image.open(source) as picture:
        picture = picture.convert("RGB")
        picture.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.LANCZOS)
        picture.save(target, quality=82, optimize=True)
    return target


def _animation(frames: list[Path], target: Path, fps: float = 8.0) -> Path:
    from PIL import Image

    if len(frames) > GIF_FRAMES:
        frames = [frames[round(i * (len(frames) - 1) / (GIF_FRAMES - 1))] for i in range(GIF_FRAMES)]
    pictures = []
    for path in frames:
        with Image.open(path) as picture:
            picture = picture.convert("RGB")
            picture.thumbnail((GIF_SIDE, GIF_SIDE), Image.LANCZOS)
            pictures.append(picture.quantize(colors=96))
    pictures[0].save(target, save_all=True, append_images=pictures[1:], duration=round(1000 / fps), loop=0,
                     optimize=True)
    return target


def render_entry(title: str, command: str, work: Path) -> Path:
    """Run ``command`` (one or more ``&&``-joined steps) in ``work``; its picture in docs/gallery/."""
    output = None
    for step in command.split("&&"):
        words = shlex.split(step)
        if words[0] == "!python":
            _clip(str(work / words[1]))
            continue
        if words[0] != "reverie":
            raise ValueError(f"{title}: a gallery command starts with 'reverie', got {step.strip()!r}")
        _cli(words[1:], work)
        output = work / _output(words[1:])
    slug = _slug(title)
    if output.is_dir():  # a folder of numbered frames
        return _animation(sorted(output.glob("*.png")), OUT / f"{slug}.gif")
    if output.suffix.lower() == ".gif":
        from PIL import Image, ImageSequence

        with Image.open(output) as gif:
            frames = []
            for index, frame in enumerate(ImageSequence.Iterator(gif)):
                frame_path = work / f"{slug}-{index:04d}.png"
                frame.convert("RGB").save(frame_path)
                frames.append(frame_path)
        return _animation(frames, OUT / f"{slug}.gif")
    return _still(output, OUT / f"{slug}.jpg")


def extra_entries() -> list[tuple[str, str, str]]:
    if not EXTRA.exists():
        return []
    entries = []
    for line in EXTRA.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            title, _, command = line.partition("|")
            entries.append((title.strip(), command.strip(), ""))
    return entries


def page(done: list[tuple[str, str, str, Path, float]]) -> str:
    lines = ["# Gallery", "",
             "Every picture here was made by the command under it, at a small size and few steps so that the whole",
             "page renders in minutes on a laptop CPU (EfficientNet-Lite0, the embedded model). Larger sizes and",
             "more steps look better. Re-create the page with `python scripts/gallery.py`; input files are the",
             "bundled sample photos (`chelsea`, `coffee`), and the video entry's clip is made by the script.", ""]
    for title, command, note, picture, seconds in done:
        shown = " && ".join(part.strip() for part in command.split("&&") if not part.strip().startswith("!python"))
        lines += [f"## {title}", "", f"![{title}](gallery/{picture.name})", ""]
        if note:
            lines += [note, ""]
        lines += ["```sh", shown, "```", "", f"*{seconds:.0f} s on the machine that made this page.*", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="render only entries whose title contains this (no page)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    entries = ENTRIES + extra_entries()
    if args.only:
        entries = [e for e in entries if args.only.lower() in e[0].lower()]
    done, failed = [], []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for title, command, note in entries:
            start = time.perf_counter()
            try:
                picture = render_entry(title, command, work)
            except (RuntimeError, ValueError, OSError) as error:
                failed.append(title)
                print(f"FAILED {title}: {error}", file=sys.stderr)
                continue
            seconds = time.perf_counter() - start
            done.append((title, command, note, picture, seconds))
            print(f"{title}: {picture.relative_to(ROOT)} ({picture.stat().st_size // 1024} KB, {seconds:.0f} s)",
                  flush=True)
    if not args.only:
        (DOCS / "gallery.md").write_text(page(done))
    total = sum(p.stat().st_size for p in OUT.iterdir() if p.is_file())
    print(f"{len(done)} entries in {time.perf_counter() - started:.0f} s, {total / 1e6:.2f} MB of pictures"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
