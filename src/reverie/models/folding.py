"""Batch norm folded into the convolution before it, for any model where the pattern is unambiguous.

A frozen ``Conv2d`` whose output goes only to a ``BatchNorm2d`` in eval mode is, up to float
rounding, one convolution with rescaled weights and a bias: a whole normalisation pass saved,
forward and backward. The pairs are found with ``torch.fx`` (a conv node whose one user is a batch
norm node), or, for a model fx cannot trace, inside ``nn.Sequential`` containers (a conv directly
followed by a batch norm). Only exact ``nn.Conv2d``/``nn.BatchNorm2d`` instances are folded (a
subclass may compute something else); anything else is left as it is.

Names, hooks and state dicts stay: the two modules stay where they were and only change class to
a subclass that decides at each call. While neither has a hook (global ones included), the model
is in eval mode and the weights need no gradient, the convolution returns the folded result and
the batch norm passes it through; otherwise both run as before, so a recorded conv or bn layer
sees exactly its own output. (The EfficientNet-Lite models fold their own ConvBN blocks.)
"""
from __future__ import annotations

import torch
from torch import nn

from reverie.models.efficientnet_lite import _has_hooks


class FoldingConv2d(nn.Conv2d):
    """An ``nn.Conv2d`` that returns conv-then-``partner`` (its batch norm) in one convolution when it can."""

    partner: nn.BatchNorm2d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _foldable(self, self.partner):
            return self._conv_forward(x, *_folded(self, self.partner))
        return super().forward(x)


class FoldingBatchNorm2d(nn.BatchNorm2d):
    """An ``nn.BatchNorm2d`` that passes its input through when its convolution already applied it."""

    partner: FoldingConv2d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _foldable(self.partner, self):
            return x
        return super().forward(x)


def _foldable(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> bool:
    # The same answer for both modules within one forward, so a pair is always folded or not as one.
    return (not conv.training and not bn.training and bn.track_running_stats and bn.running_var is not None
            and not conv.weight.requires_grad and not (bn.affine and bn.weight.requires_grad)
            and not _has_hooks(conv) and not _has_hooks(bn))


def _folded(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of the convolution equal to ``conv`` then ``bn``; recomputed when a source changed."""
    sources = [t for t in (conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var) if t is not None]
    key = tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in sources)
    cached = conv.__dict__.get("_reverie_folded")
    if cached is not None and torch.compiler.is_compiling():  # storage addresses cannot be traced
        return cached[1], cached[2]
    if cached is None or cached[0] != key:
        with torch.no_grad():
            # In float64, then back: the fold adds one rounding, not several.
            scale = torch.rsqrt(bn.running_var.double() + bn.eps)
            if bn.affine:
                scale = scale * bn.weight.double()
            bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
            shift = (bias - bn.running_mean.double()) * scale
            if bn.affine:
                shift = shift + bn.bias.double()
            weight = (conv.weight.double() * scale.view(-1, 1, 1, 1)).to(conv.weight.dtype)  # [O, I/g, kh, kw]
            cached = (key, weight, shift.to(conv.weight.dtype))
        conv.__dict__["_reverie_folded"] = cached
    return cached[1], cached[2]


def conv_bn_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """(conv name, batch norm name) of every unambiguous pair: by ``torch.fx``, else in Sequentials."""
    modules = dict(model.named_modules())

    def exact(name: str, kind: type) -> bool:
        return type(modules.get(name)) is kind or type(modules.get(name)) is {nn.Conv2d: FoldingConv2d,
                                                                              nn.BatchNorm2d: FoldingBatchNorm2d}[kind]
    pairs: list[tuple[str, str]] = []
    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception:  # noqa: BLE001 - control flow fx cannot follow: the containers are still readable
        graph = None
    if graph is not None:
        for node in graph.nodes:
            if node.op != "call_module" or not exact(node.target, nn.BatchNorm2d) or len(node.args) != 1:
                continue
            source = node.args[0]
            if (isinstance(source, torch.fx.Node) and source.op == "call_module" and exact(source.target, nn.Conv2d)
                    and len(source.users) == 1 and not node.kwargs):
                pairs.append((source.target, node.target))
    else:
        for name, module in modules.items():
            if isinstance(module, nn.Sequential):
                children = list(module.named_children())
                for (first, _), (second, _) in zip(children, children[1:]):
                    left, right = f"{name}.{first}" if name else first, f"{name}.{second}" if name else second
                    if exact(left, nn.Conv2d) and exact(right, nn.BatchNorm2d):
                        pairs.append((left, right))
    # A module used twice in the graph (shared weights) would be folded against two partners: leave it.
    names = [name for pair in pairs for name in pair]
    shared = {name for name in names if names.count(name) > 1}
    return [pair for pair in pairs if not shared.intersection(pair)
            and modules[pair[0]].out_channels == modules[pair[1]].num_features]


def fold_batch_norms(model: nn.Module) -> list[tuple[str, str]]:
    """Fold every unambiguous Conv2d -> BatchNorm2d pair of ``model`` (in place); returns the pairs."""
    modules = dict(model.named_modules())
    pairs = conv_bn_pairs(model)
    for conv_name, bn_name in pairs:
        conv, bn = modules[conv_name], modules[bn_name]
        conv.__class__, bn.__class__ = FoldingConv2d, FoldingBatchNorm2d
        # Plain attributes, not submodules: the pair must not appear twice in named_modules().
        object.__setattr__(conv, "partner", bn)
        object.__setattr__(bn, "partner", conv)
    return pairs


__all__ = ["FoldingConv2d", "FoldingBatchNorm2d", "conv_bn_pairs", "fold_batch_norms"]
