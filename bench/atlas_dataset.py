"""Dataset-example pass throughput: photos per second through ``reverie.atlas.examples.find_examples``
(decode at reduced size, scale and centre-crop to 224 px, batched forward cut short at the deepest
layer, running top-k per unit), at several photo batch sizes, interleaved in one run."""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import reverie
from reverie.atlas.examples import find_examples


def write_photos(folder: Path, count: int) -> None:
    """``count`` 640x480 JPEGs: crops of the bundled samples with noise, so no two are alike."""
    generator = np.random.default_rng(0)
    samples = [np.asarray(reverie.to_pil(reverie.sample(name))) for name in ("chelsea", "coffee", "astronaut", "rocket")]
    for index in range(count):
        picture = Image.fromarray(samples[index % 4]).resize((800, 600))
        left, top = generator.integers(0, 160), generator.integers(0, 120)
        array = np.asarray(picture.crop((left, top, left + 640, top + 480)), dtype=np.float32)
        array = np.clip(array + generator.normal(0, 8, array.shape), 0, 255).astype(np.uint8)
        Image.fromarray(array).save(folder / f"photo-{index:04d}.jpg", quality=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=96)
    parser.add_argument("--layers", nargs="+", default=["blocks.6", "blocks.9"])
    parser.add_argument("--batches", type=int, nargs="+", default=[4, 16, 32])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (on a busy shared CPU, 1: more threads than free cores spin)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}, "
          f"{args.photos} photos 640x480 JPEG, layers {' '.join(args.layers)}, 224 px")
    model = reverie.load_model("efficientnet-lite0")
    rates: dict[int, list[float]] = {batch: [] for batch in args.batches}
    with tempfile.TemporaryDirectory() as folder:
        write_photos(Path(folder), args.photos)
        find_examples(model, folder, args.layers, batch=args.batches[0])  # warm-up (and the file cache)
        for repeat in range(args.repeats):
            order = args.batches[repeat % len(args.batches):] + args.batches[:repeat % len(args.batches)]
            for batch in order:
                start = time.perf_counter()
                find_examples(model, folder, args.layers, batch=batch)
                rates[batch].append(args.photos / (time.perf_counter() - start))
    for batch, values in rates.items():
        print(f"batch {batch:>3}: {statistics.median(values):6.1f} photos/s  (" + ", ".join(f"{v:.1f}" for v in values) + ")")
    best = max(rates, key=lambda batch: statistics.median(rates[batch]))
    print(f"SUMMARY: the dataset pass reads {statistics.median(rates[best]):.1f} photos/s at batch {best} "
          f"({statistics.median(rates[best]) / statistics.median(rates[args.batches[0]]):.2f}x batch {args.batches[0]})")


if __name__ == "__main__":
    main()
