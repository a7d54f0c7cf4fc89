"""Large-scale structure and peak memory of a large feature visualization: whole-canvas vs canvas views.

Renders one channel at ``--size`` (WIDTHxHEIGHT) twice with the embedded EfficientNet-Lite0 on the
CPU, each in a fresh child process (this script re-run with --child): once as before views existed
(``view=0``: the network sees the whole canvas at full size) and once with canvas views (``view=384``,
the default: the whole canvas shrunk to 384 px on some steps, crops at finer zooms on others).

Per run it prints:

* low: the share of the grey image's spectral power (mean removed) at spatial frequencies below
  ``--low`` cycles per image (counted along the long side): structure larger than long side / low.
  A repeated small motif ("wallpaper") has little; a composition has more.
* spectrum: the radially averaged power spectrum in octave bands (cycles per image), as shares.
* peak: the child's peak RSS (ru_maxrss of exactly that process).

SUMMARY: the ratio of low-frequency shares (views / whole), and whether the views run stays under 1.5 GB.

    .venv/bin/python bench/composition.py [--size 1024x576] [--steps 64] [--layer blocks.9] [--channel 7]
        [--caricature]   # also: peak memory of a 1024x683 caricature at 48 steps, with views
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

TARGET_BYTES = 1_500_000_000


def band_shares(image, low: float) -> tuple[float, list[tuple[str, float]]]:
    """(share of power below ``low`` cycles/image, [(band, share)] in octave bands)."""
    import torch

    grey = image[0, :3].mean(dim=0).double()  # [H, W]
    grey = grey - grey.mean()
    power = torch.fft.fft2(grey).abs() ** 2
    height, width = grey.shape
    long_side = max(height, width)
    # frequency magnitude in cycles per image along the long side
    fy = torch.fft.fftfreq(height, dtype=torch.float64)[:, None] * long_side
    fx = torch.fft.fftfreq(width, dtype=torch.float64)[None, :] * long_side
    radius = torch.sqrt(fx ** 2 + fy ** 2)
    total = float(power.sum())
    bands, edge = [], 1.0
    while edge < long_side / 2:
        inside = (radius >= edge) & (radius < 2 * edge)
        bands.append((f"{edge:g}-{2 * edge:g}", float(power[inside].sum()) / total))
        edge *= 2
    return float(power[radius < low].sum()) / total, bands


def child(args) -> None:
    import torch

    import reverie
    from reverie.engine.optimize import RenderSettings

    torch.set_num_threads(max(1, torch.get_num_threads()))
    width, height = (int(v) for v in args.size.split("x"))
    model = reverie.load_model("efficientnet-lite0")
    start = time.perf_counter()
    if args.kind == "caricature":
        result = reverie.caricature("sample:chelsea", size=(width, height), layers=(args.layer,), model=model,
                                    settings=RenderSettings(steps=args.steps))
    else:
        result = reverie.visualize(f"channel({args.layer}, {args.channel})", model=model, size=(width, height),
                                   view=args.view, settings=RenderSettings(steps=args.steps), seed=args.seed)
    seconds = time.perf_counter() - start
    low, bands = band_shares(result.images, args.low)
    if args.save:
        result.save(args.save)
    print(json.dumps({"low": low, "bands": bands, "seconds": seconds}))


def run_child(args, **changes) -> dict:
    argv = [sys.executable, __file__, "--child", "--size", args.size, "--steps", str(args.steps),
            "--layer", args.layer, "--channel", str(args.channel), "--low", str(args.low), "--seed", str(args.seed)]
    for key, value in changes.items():
        argv += [f"--{key}", str(value)]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)  # the rusage of exactly this child
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"child failed: {' '.join(argv)}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak"] = usage.ru_maxrss * 1024  # KiB on Linux
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1024x576")
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--layer", default="blocks.9")
    parser.add_argument("--channel", type=int, default=7)
    parser.add_argument("--low", type=float, default=8.0, help="cycles per image counted as large-scale")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--view", type=int, default=384)
    parser.add_argument("--kind", default="visualize")
    parser.add_argument("--save", default="")
    parser.add_argument("--caricature", action="store_true")
    parser.add_argument("--child", action="store_true")
    args = parser.parse_args()
    if args.child:
        return child(args)

    import torch
    print(f"threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}, size {args.size}, "
          f"{args.steps} steps, channel({args.layer}, {args.channel}), low = below {args.low:g} cycles/image")
    runs = {}
    for name, view in (("views", args.view), ("whole", 0)):
        runs[name] = run_child(args, view=view)
        r = runs[name]
        print(f"{name:6s} view={view:<4d} low {r['low']:.4f}  peak {r['peak'] / 1e9:.2f} GB  {r['seconds']:.0f} s  "
              "bands " + " ".join(f"{band}:{share:.3f}" for band, share in r["bands"]))
    ratio = runs["views"]["low"] / max(runs["whole"]["low"], 1e-12)
    ok = runs["views"]["peak"] < TARGET_BYTES
    if args.caricature:
        c = run_child(argparse.Namespace(**{**vars(args), "size": "1024x683", "steps": 48, "layer": "blocks.8"}),
                      kind="caricature")
        print(f"caricature 1024x683, 48 steps, blocks.8: peak {c['peak'] / 1e9:.2f} GB, {c['seconds']:.0f} s")
        ok = ok and c["peak"] < TARGET_BYTES
    print(f"SUMMARY: low-frequency power with views / whole canvas = {ratio:.2f}x "
          f"({runs['views']['low']:.4f} vs {runs['whole']['low']:.4f}); peak with views "
          f"{runs['views']['peak'] / 1e9:.2f} GB: {'meets' if ok else 'misses'} the 1.5 GB target")


if __name__ == "__main__":
    main()
