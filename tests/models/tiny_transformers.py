"""Small networks shaped like the ones users bring, with random weights: a ViT (class token, position
embeddings), an MLP-Mixer (tokens, no class token), a Swin-style channels-last network, a CNN with a
fixed flatten, and an InceptionV1-shaped network named like torchvision's googlenet.

Importable as ``tiny_transformers:vit`` etc. (pytest puts this folder on sys.path).
"""
from __future__ import annotations

import torch
from torch import nn


def _seeded(build):
    def make(*args, **kwargs):
        with torch.random.fork_rng():
            torch.manual_seed(0)
            return build(*args, **kwargs).eval()
    make.__name__ = build.__name__
    return make


class Block(nn.Module):
    """A pre-norm transformer block on [B, tokens, D]."""

    def __init__(self, dim: int, heads: int = 2):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        y = self.norm1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """Patch embedding, a class token, learned position embeddings (so one input size only), blocks."""

    def __init__(self, image: int = 32, patch: int = 8, dim: int = 24, depth: int = 3, classes: int = 10):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, (image // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # [B, D, h, w] -> [B, h*w, D]
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


class MixerBlock(nn.Module):
    def __init__(self, tokens: int, dim: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.token_mix = nn.Sequential(nn.Linear(tokens, tokens), nn.GELU())
        self.norm2 = nn.LayerNorm(dim)
        self.channel_mix = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.token_mix(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mix(self.norm2(x))


class TinyMixer(nn.Module):
    """MLP-Mixer: patch tokens only (no class token), token mixing ties it to one input size."""

    def __init__(self, image: int = 32, patch: int = 8, dim: int = 16, depth: int = 2):
        super().__init__()
        self.stem = nn.Conv2d(3, dim, patch, stride=patch)
        self.blocks = nn.Sequential(*[MixerBlock((image // patch) ** 2, dim) for _ in range(depth)])
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        x = self.stem(x).flatten(2).transpose(1, 2)  # [B, D, h, w] -> [B, h*w, D]
        return self.head(self.blocks(x).mean(dim=1))


class Permute(nn.Module):
    def __init__(self, *order: int):
        super().__init__()
        self.order = order

    def forward(self, x):
        return x.permute(*self.order)


class SwinBlock(nn.Module):
    """A channels-last block on [B, H, W, C], as torchvision's Swin blocks are."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.mix = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.mix(self.norm(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return x + self.mlp(x)


class PatchMerging(nn.Module):
    """[B, H, W, C] -> [B, H/2, W/2, 2C]."""

    def __init__(self, dim: int):
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim)

    def forward(self, x):
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.reduction(x)


class TinySwin(nn.Module):
    """Named like torchvision's swin_t: features.0 patch embedding, features.1 blocks, features.2 merging..."""

    def __init__(self, dim: int = 12):
        super().__init__()
        self.features = nn.Sequential(
            nn.Sequential(nn.Conv2d(3, dim, 4, stride=4), Permute(0, 2, 3, 1), nn.LayerNorm(dim)),
            nn.Sequential(SwinBlock(dim), SwinBlock(dim)),
            PatchMerging(dim),
            nn.Sequential(SwinBlock(2 * dim), SwinBlock(2 * dim)),
        )
        self.head = nn.Linear(2 * dim, 10)

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(1, 2)))


class FlattenCNN(nn.Module):
    """A classic small CNN whose classifier flattens a fixed-size map: its head takes 32x32 inputs only."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(16 * 8 * 8, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


vit = _seeded(TinyViT)
mixer = _seeded(TinyMixer)
swin = _seeded(TinySwin)
flatten_cnn = _seeded(FlattenCNN)
