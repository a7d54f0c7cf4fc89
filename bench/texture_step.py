"""Seconds per mesh-texture optimisation step vs. one bare truncated forward+backward at the same size.

* **bare**: inside an ``ActivationRecorder`` on the objective's layers: a [views, 3, S, S] image
  with ``requires_grad``, the objective, and ``torch.autograd.grad`` - nothing else.
* **step**: ``reverie.engine.optimize.render`` with a :class:`~reverie.mesh.TexturedMeshParam`
  (a 256x256 FFT texture on a UV sphere of ``--rings`` x 2*``--rings`` quads), the standard
  transforms, Adam; wall time divided by the steps (redirected ReLUs off, as in visualize_step.py).
* **rasterization**: project + rasterize + UV interpolation for the step's views, timed alone;
  printed as a share of the step.

    .venv/bin/python bench/texture_step.py [--size 256] [--views 1] [--steps 6] [--rings 24] [--threads N]
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import torch

import reverie
from reverie.engine.optimize import RenderSettings, render
from reverie.mesh import TexturedMeshParam, load_mesh, project, random_cameras, rasterize, uv_image
from reverie.params import FourierParam
from reverie.randomness import generator
from reverie.recorder import ActivationRecorder
from reverie.robustness import transforms_by_name


def write_sphere(path: Path, rings: int) -> Path:
    """A UV sphere OBJ: (rings + 1) x (2 rings + 1) vertices, 4 rings^2 triangles."""
    segments = 2 * rings
    lines, faces = [], []
    for i in range(rings + 1):
        theta = math.pi * i / rings
        for j in range(segments + 1):
            phi = 2 * math.pi * j / segments
            lines.append(f"v {math.sin(theta) * math.sin(phi):g} {math.cos(theta):g} {math.sin(theta) * math.cos(phi):g}")
            lines.append(f"vt {j / segments:g} {1 - i / rings:g}")
    for i in range(rings):
        for j in range(segments):
            a = i * (segments + 1) + j + 1
            b = a + segments + 1
            faces += [(a, b, a + 1), (a + 1, b, b + 1)]
    lines += [f"f {a}/{a} {b}/{b} {c}/{c}" for a, b, c in faces]
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--views", type=int, default=1)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rings", type=int, default=24)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--objective", default="channel(blocks.6, 12)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")
    model = reverie.load_model("efficientnet-lite0")
    objective = reverie.parse_objective(args.objective)
    with tempfile.TemporaryDirectory() as folder:
        mesh = load_mesh(write_sphere(Path(folder) / "sphere.obj", args.rings))
    print(f"mesh: {mesh.faces.shape[0]} faces; render {args.size}x{args.size}, {args.views} view(s) per step")

    def step_seconds(steps: int) -> float:
        texture = FourierParam(256, 256, generator=generator(0, "texture"))
        param = TexturedMeshParam(mesh, texture, args.size, args.views, generator=generator(0, "views"))
        settings = RenderSettings(steps=steps, redirect_steps=0)
        start = time.perf_counter()
        render(model, objective, param, transforms_by_name("standard"), settings)
        # render() also makes one no-grad view for its kept image: a step's worth of rasterization, no model
        return (time.perf_counter() - start) / steps

    def bare_seconds(passes: int) -> float:
        image = torch.rand(args.views, 3, args.size, args.size, generator=generator(0, "bench")).requires_grad_(True)
        with ActivationRecorder(model, objective.layers) as recorder:
            start = time.perf_counter()
            for _ in range(passes):
                torch.autograd.grad(objective(recorder(image)), image)
            return (time.perf_counter() - start) / passes

    def raster_seconds(passes: int) -> float:
        views = generator(0, "raster")
        start = time.perf_counter()
        for _ in range(passes):
            screen = project(mesh.vertices, random_cameras(args.views, views), args.size, args.size)
            face_index, barycentric = rasterize(screen, mesh.faces, args.size, args.size)
            uv_image(mesh, face_index, barycentric)
        return (time.perf_counter() - start) / passes

    step_seconds(2), bare_seconds(2), raster_seconds(2)  # warm-up
    step, bare, raster = step_seconds(args.steps), bare_seconds(args.steps), raster_seconds(args.steps)
    print(f"texture step {step * 1000:.1f} ms, bare fwd+bwd {bare * 1000:.1f} ms, ratio {step / bare:.3f}; "
          f"rasterization {raster * 1000:.1f} ms ({raster / step:.0%} of the step)")


if __name__ == "__main__":
    main()
