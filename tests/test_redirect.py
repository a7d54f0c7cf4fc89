"""Redirected ReLU gradients: same forward, ordinary gradient where it exists, a way out for dead units."""
from __future__ import annotations

from contextlib import nullcontext

import pytest
import torch
from torch import nn

from reverie.recorder import ActivationRecorder
from reverie.redirect import REDIRECT_STEPS, RedirectedReLU, redirected_relus


def _image_gradient(model, image, redirect: bool) -> torch.Tensor:
    image = image.clone().requires_grad_(True)
    if redirect:
        with redirected_relus(model):
            model(image).sum().backward()
    else:
        model(image).sum().backward()
    return image.grad


def test_forward_values_are_unchanged(tiny_cnn):
    image = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        plain = tiny_cnn(image)
    with redirected_relus(tiny_cnn), torch.enable_grad():
        redirected = tiny_cnn(image.requires_grad_(True))
    assert torch.equal(plain, redirected.detach())


def test_gradient_is_unchanged_where_relus_pass_gradient(tiny_cnn):
    # A random photo-like input keeps some units of every ReLU active for every item, so the
    # ordinary gradient is nonzero everywhere and must come through untouched.
    image = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    plain = _image_gradient(tiny_cnn, image, redirect=False)
    redirected = _image_gradient(tiny_cnn, image, redirect=True)
    assert plain.abs().sum() > 0
    assert torch.equal(plain, redirected)


def test_dead_item_gets_redirected_gradient_and_live_item_keeps_its_own():
    x = torch.tensor([[-1.0, 2.0, -3.0], [-1.0, -2.0, -3.0]], requires_grad=True)
    y = torch.relu(x)
    grad = torch.tensor([[1.0, -1.0, -1.0], [1.0, -1.0, -1.0]])
    RedirectedReLU.apply(x, y, 0.0, float("inf")).backward(grad)
    # Item 0 has an active unit: the ordinary ReLU gradient. Item 1 is all dead: the gradient passes
    # except at x=-1, where grad > 0 means descent would push x further below zero.
    assert x.grad.tolist() == [[0.0, -1.0, 0.0], [0.0, -1.0, -1.0]]


def test_relu6_blocks_pushes_above_six_too():
    x = torch.tensor([[-1.0, 7.0, 7.0, -1.0]], requires_grad=True)
    six = nn.ReLU6()
    grad = torch.tensor([[-1.0, -1.0, 1.0, 1.0]])
    with redirected_relus(six):
        six(x).backward(grad)
    # Nothing is in (0, 6), so the item is dead: x=7 with grad<0 (descent raises it) is blocked,
    # x=7 with grad>0 and x=-1 with grad<0 pull back towards the range and pass.
    assert x.grad.tolist() == [[-1.0, 0.0, 1.0, 0.0]]


def _reference_redirect(x: torch.Tensor, grad: torch.Tensor, lower: float, upper: float) -> torch.Tensor:
    """The rule of RedirectedReLU's docstring, written out with full-size masks for every item."""
    below, above = x <= lower, x >= upper
    ordinary = grad.masked_fill(below | above, 0)
    redirected = grad.masked_fill((below & (grad > 0)) | (above & (grad < 0)), 0)
    dead = ~ordinary.reshape(len(x), -1).ne(0).any(dim=1)
    return torch.where(dead.reshape(-1, *[1] * (x.ndim - 1)), redirected, ordinary)


@pytest.mark.parametrize("lower, upper", [(0.0, float("inf")), (0.0, 6.0)])
@pytest.mark.parametrize("dead_items", [(), (1,), (0, 2, 3)])
@pytest.mark.parametrize("channels", [3, 32])  # 32: the sampled first channels settle live items
def test_backward_equals_the_rule_for_live_dead_and_boundary_items(lower, upper, dead_items, channels):
    source = torch.Generator().manual_seed(2)
    x = torch.randn(4, channels, 5, 5, generator=source) * 4 + 2
    x[:, 0, 0, :2] = torch.tensor([lower, 6.0])  # inputs exactly on a bound count as outside the range
    for item in dead_items:
        x[item] = torch.where(torch.rand(x[item].shape, generator=source) < 0.5, -1.0, 7.0 if upper == 6 else -2.0)
        x[item, 0, 0, 0] = lower
    grad = torch.randn(x.shape, generator=source)
    leaf = x.clone().requires_grad_(True)
    RedirectedReLU.apply(leaf, leaf.clamp(lower, upper), lower, upper).backward(grad)
    expected = _reference_redirect(x, grad, lower, upper)
    assert torch.equal(leaf.grad, expected)
    for item in dead_items:  # a dead item's gradient is not all zero: it was redirected
        assert leaf.grad[item].abs().sum() > 0


def test_an_item_live_only_in_its_last_channel_keeps_its_ordinary_gradient():
    # The backward first reads a sixteenth of the channels; a unit alive beyond them must still count.
    x = torch.full((2, 32, 3, 3), -1.0)
    x[0, -1, 1, 1] = 2.0
    grad = torch.ones_like(x)
    leaf = x.clone().requires_grad_(True)
    RedirectedReLU.apply(leaf, leaf.relu(), 0.0, float("inf")).backward(grad)
    assert leaf.grad[0].sum() == 1 and leaf.grad[0, -1, 1, 1] == 1  # ordinary: only the live unit
    assert torch.equal(leaf.grad, _reference_redirect(x, grad, 0.0, float("inf")))


def test_hooks_are_removed_and_inplace_restored_on_exit():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(inplace=True), nn.Conv2d(4, 4, 1), nn.ReLU6(inplace=True))
    with pytest.raises(RuntimeError, match="boom"), redirected_relus(model) as names:
        assert names == ["1", "3"]
        assert not model[1].inplace and len(model[1]._forward_hooks) == 1
        raise RuntimeError("boom")
    assert all(len(module._forward_hooks) == 0 for module in model.modules())
    assert model[1].inplace and model[3].inplace


def test_inplace_relu_is_redirected():
    model = nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU(inplace=True))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.fill_(-10.0)  # dead for inputs in [0, 1]
    image = torch.rand(1, 1, 4, 4, requires_grad=True)
    with redirected_relus(model):
        (-model(image).sum()).backward()
    assert (image.grad < 0).all()  # descent raises the input towards the active range


def _optimise_channel(model, channel: int, redirect_steps: int, steps: int = 48) -> tuple[torch.Tensor, float]:
    """Adam on the pixels of a grey image for the mean of ``channel`` at features.relu3."""
    image = torch.full((1, 3, 32, 32), 0.5, requires_grad=True)
    optimizer = torch.optim.Adam([image], lr=0.05)
    total_gradient = 0.0
    with ActivationRecorder(model, ["features.relu3"]) as recorder:
        for step in range(steps):
            optimizer.zero_grad()
            with redirected_relus(model) if step < redirect_steps else nullcontext():
                loss = -recorder(image)["features.relu3"][:, channel].mean()
                loss.backward()
            total_gradient += float(image.grad.abs().sum())
            optimizer.step()
            with torch.no_grad():
                image.clamp_(0, 1)
    return image.detach(), total_gradient


def test_redirect_brings_a_dead_channel_to_life_where_plain_gradient_stays_grey(dead_channel_cnn):
    model, channel = dead_channel_cnn
    grey = torch.full((1, 3, 32, 32), 0.5)

    plain, plain_gradient = _optimise_channel(model, channel, redirect_steps=0)
    assert plain_gradient == 0.0 and torch.equal(plain, grey)

    redirected, _ = _optimise_channel(model, channel, redirect_steps=REDIRECT_STEPS)
    with torch.no_grad(), ActivationRecorder(model, ["features.relu3"]) as recorder:
        activation = recorder(redirected)["features.relu3"][:, channel]
    assert redirected.std() > 0.1, "the redirected image should have structure, not stay grey"
    assert activation.max() > 0, "the dead channel should have been brought into its active range"


def test_redirected_activations_keep_a_channels_last_network_channels_last(lite0):
    # A view with a recomputed batch stride made every convolution after the first redirected ReLU run
    # contiguous: the redirected steps of a channels-last render cost 1.3x an ordinary one.
    assert lite0.stem.conv.weight.is_contiguous(memory_format=torch.channels_last)  # the embedded default
    seen = []
    handles = [lite0.get_submodule(name).register_forward_hook(
        lambda module, inputs, output: seen.append(output.is_contiguous(memory_format=torch.channels_last)))
        for name in ("blocks.1.depthwise", "blocks.5.expand", "blocks.8.project")]
    try:
        with redirected_relus(lite0):
            lite0(torch.rand(1, 3, 64, 64, requires_grad=True))
    finally:
        for handle in handles:
            handle.remove()
    assert seen == [True, True, True]
