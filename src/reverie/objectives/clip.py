"""Text-guided objective: CLIP similarity between random cutouts of the image and a text prompt."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F

from reverie.errors import ReverieError, unknown_name_message
from reverie.expressions import quote_string
from reverie.objectives.base import Activations, Objective
from reverie.recorder import INPUT

# The RGB mean and std every released CLIP (OpenAI's and open_clip's) was trained with.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
DEFAULT_CLIP_MODEL = "ViT-B-32"
MAX_CUTOUTS = 256

WEIGHTS_HELP = (
    "CLIP needs open_clip (pip install 'reverie[clip]') and weights: pass --clip-weights FILE (an open_clip checkpoint, e.g. open_clip_pytorch_model.bin "
    "from https://huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K for --clip-model ViT-B-32) or a "
    "pretrained tag already in your Hugging Face cache (e.g. --clip-weights laion2b_s34b_b79k); getting "
    "them needs internet once, and Reverie never downloads them itself"
)
INSTALL_HELP = "pip install 'reverie[clip]'"


class ClipModel(Protocol):
    """What the objective needs from a CLIP model (open_clip's and OpenAI's both fit)."""

    def encode_image(self, images: torch.Tensor) -> torch.Tensor: ...  # [N, 3, S, S] normalised -> [N, D]
    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor: ...    # [M, L] token ids -> [M, D]


@dataclass(frozen=True)
class Clip:
    """A CLIP model ready for use: frozen model, its tokenizer, and its square input side."""

    model: Any                                        # a ClipModel (usually an nn.Module)
    tokenizer: Callable[[Sequence[str]], torch.Tensor]  # list of texts -> [M, L] token ids
    image_size: int                                   # side (px) the image encoder takes


@dataclass(frozen=True)
class CutoutSettings:
    """How the image is cut up before CLIP sees it (as CLIP-guided art tools do)."""

    count: int = 32            # cutouts per image per step; 32-128 in the tools that use them
    min_size: float = 0.25     # smallest cutout side, as a fraction of the image's short side
    max_size: float = 1.0      # largest cutout side, same units
    noise: float = 0.05        # std of Gaussian noise added to each cutout, in [0, 1] pixel units

    def __post_init__(self):
        if isinstance(self.count, bool) or not isinstance(self.count, int) or not 1 <= self.count <= MAX_CUTOUTS:
            raise ReverieError(f"cutouts must be a whole number from 1 to {MAX_CUTOUTS}, got {self.count!r}")
        if not 0 < self.min_size <= self.max_size <= 1:
            raise ReverieError(f"cutout sizes must satisfy 0 < min <= max <= 1, got {self.min_size}, {self.max_size}")
        if not self.noise >= 0:
            raise ReverieError(f"cutout noise must be zero or positive, got {self.noise!r}")


def sample_cutouts(height: int, width: int, settings: CutoutSettings,
                   generator: torch.Generator) -> list[tuple[int, int, int]]:
    """``settings.count`` random squares (top, left, side) inside a ``height`` x ``width`` image.

    Sampled apart from being applied, so a set of cutouts can be replayed on another image.
    Sides are uniform between ``min_size`` and ``max_size`` of the short side.
    """
    short = min(height, width)
    boxes = []
    for _ in range(settings.count):
        fraction = settings.min_size + (settings.max_size - settings.min_size) * float(torch.rand((), generator=generator))
        side = max(1, min(short, round(fraction * short)))
        top = int(torch.randint(0, height - side + 1, (), generator=generator))
        left = int(torch.randint(0, width - side + 1, (), generator=generator))
        boxes.append((top, left, side))
    return boxes


def cutouts(image: torch.Tensor, size: int, settings: CutoutSettings, generator: torch.Generator) -> torch.Tensor:
    """Random square crops of ``image`` [B, 3, H, W] resized to ``size``, with a little noise.

    Returns [count * B, 3, size, size] (cutout-major: the first B rows are cutout 0 of each image).
    Differentiable with respect to ``image``; every random draw comes from ``generator`` (on the CPU).
    """
    boxes = sample_cutouts(image.shape[2], image.shape[3], settings, generator)
    crops = [F.interpolate(image[:, :, top:top + side, left:left + side], size=(size, size),
                           mode="bilinear", align_corners=False, antialias=side > size)
             for top, left, side in boxes]
    batch = torch.cat(crops)  # count x [B, 3, size, size] -> [count * B, 3, size, size]
    if settings.noise > 0:
        noise = torch.randn(batch.shape, generator=generator) * settings.noise
        batch = batch + noise.to(batch)
    return batch


class ClipSimilarity(Objective):
    """Mean cosine similarity between CLIP embeddings of the image's cutouts and of ``prompt``.

    Reads ``"@input"`` (the RGB image the network saw, in [0, 1]), so it needs no layer of the
    dreamed model: with this objective alone, the recorder skips that model's forward entirely.
    The prompt's embedding is computed once, on first use, and cached. Cutouts are drawn from
    ``generator``, so the same seed gives the same pixels; build a fresh objective per run.
    No text form (it needs a live CLIP model): a recipe stores the prompt in its ``text`` field.
    Equal only to itself, since its generator's state is part of what it computes.
    """

    layers: tuple[str, ...] = ()
    textual = False

    def __init__(self, clip: Clip, prompt: str, generator: torch.Generator,
                 cutout_settings: CutoutSettings = CutoutSettings()):
        if not prompt.strip():
            raise ReverieError("the CLIP prompt (--text) is empty")
        self.clip = clip
        self.prompt = prompt
        self.generator = generator
        self.cutout_settings = cutout_settings
        self._text_embedding: torch.Tensor | None = None

    def text_embedding(self, device: torch.device) -> torch.Tensor:
        """The prompt's unit embedding [1, D], computed on first call and cached."""
        if self._text_embedding is None:
            tokens = self.clip.tokenizer([self.prompt]).to(device)
            with torch.no_grad():
                embedding = self.clip.model.encode_text(tokens).float()
            self._text_embedding = F.normalize(embedding, dim=-1)
        return self._text_embedding.to(device)

    def score(self, activations: Activations) -> torch.Tensor:
        image = activations[INPUT]
        if image.dim() != 4 or image.shape[1] != 3:
            raise ReverieError(f"clip() expected an RGB image [B, 3, H, W], got {list(image.shape)}")
        batch = cutouts(image, self.clip.image_size, self.cutout_settings, self.generator)
        mean = torch.tensor(CLIP_MEAN, device=batch.device, dtype=batch.dtype).view(1, 3, 1, 1)
        std = torch.tensor(CLIP_STD, device=batch.device, dtype=batch.dtype).view(1, 3, 1, 1)
        dtype = next((p.dtype for p in _parameters(self.clip.model)), batch.dtype)
        embeddings = self.clip.model.encode_image(((batch - mean) / std).to(dtype)).float()  # [N, D]
        similarity = F.normalize(embeddings, dim=-1) @ self.text_embedding(batch.device).T  # [N, 1]
        return similarity.mean()

    def label(self) -> str:
        return f"clip({quote_string(self.prompt)})"


def _parameters(model: Any):
    parameters = getattr(model, "parameters", None)
    return parameters() if callable(parameters) else iter(())


def load_clip(name: str, weights: str | None, device: str | torch.device = "cpu") -> Clip:
    """An open_clip model ``name`` with ``weights`` (a local checkpoint file, or a pretrained tag
    already in the Hugging Face cache), frozen, in eval mode, on ``device``. Never downloads."""
    name = name or DEFAULT_CLIP_MODEL
    if not weights:
        raise ReverieError(f"no CLIP weights given. {WEIGHTS_HELP}")
    looks_like_file = os.sep in weights or "/" in weights or Path(weights).suffix in (".bin", ".pt", ".pth", ".safetensors")
    if looks_like_file and not Path(weights).is_file():
        raise ReverieError(f"CLIP weights file not found: {weights}. {WEIGHTS_HELP}")
    # Hugging Face reads these when first imported: from here on only its local cache is used.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import open_clip  # lazy: an optional, heavy library that only text-guided dreams need
    except Exception as error:  # noqa: BLE001 - ImportError, or torchvision failing beside this torch
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ReverieError(f"text-guided dreaming needs open_clip, which did not import ({detail}); "
                           f"{INSTALL_HELP} (open_clip also needs a torchvision that matches your torch)") from None
    if name not in open_clip.list_models():
        raise ReverieError(unknown_name_message("CLIP model", name, open_clip.list_models()))
    try:
        model = open_clip.create_model(name, pretrained=weights, device=device)
    except Exception as error:  # noqa: BLE001 - missing cache entry, wrong checkpoint, offline hub
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ReverieError(f"could not load CLIP {name} with weights {weights}: {detail}. {WEIGHTS_HELP}") from None
    model.eval().requires_grad_(False)
    size = model.visual.image_size
    side = size if isinstance(size, int) else size[0]
    return Clip(model, open_clip.get_tokenizer(name), int(side))


def clip_objective(clip: Clip, prompt: str, generator: torch.Generator, cutouts: int = 32) -> ClipSimilarity:
    """A :class:`ClipSimilarity` with ``cutouts`` cutouts per step and default sizes and noise."""
    return ClipSimilarity(clip, prompt, generator, CutoutSettings(count=cutouts))
