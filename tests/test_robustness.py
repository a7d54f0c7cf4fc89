"""Robustness transforms: shapes, seeded replay, per-item draws, gradients, and exact special cases."""
from __future__ import annotations

import pytest
import torch

from reverie.errors import ReverieError
from reverie.randomness import generator
from reverie.robustness import (
    STANDARD, TRANSFORM_SETS, affine_grid, affine_matrices, compose, crop_back, crop_center, describe, jitter, name_of, pad, random_rotate, random_scale,
    standard_transforms, transforms_by_name,
)


def _image(batch: int = 2, channels: int = 3, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, channels, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("channels", [3, 4])
def test_pad_grows_and_jitter_shrinks(channels):
    image = _image(channels=channels)
    padded = pad(5)(image, generator(0))
    assert padded.shape == (2, channels, 42, 42)
    assert torch.equal(padded[..., 5:-5, 5:-5], image) and (padded[..., 0, :] == 0.5).all()
    assert jitter(6)(image, generator(0)).shape == (2, channels, 26, 26)


def test_crop_center_keeps_the_centre_and_never_pads():
    image = _image(size=9)
    cropped = crop_center(image, 5, 3)
    assert cropped.shape == (2, 3, 5, 3)
    assert torch.equal(cropped[..., 2, 1], image[..., 4, 4])  # centre pixel stays the centre pixel
    assert torch.equal(crop_center(image, 12, 9), image)  # smaller or equal: left as it is
    assert crop_center(image[..., :7], 5, 9).shape == (2, 3, 5, 7)


FUSABLE = {
    "standard": standard_transforms(),
    "constant fill, jitters after": [pad(6, value=0.2), jitter(3), random_scale([0.8, 1.3], fill=0.2), jitter(5),
                                     jitter(2)],
    "rotation only": [pad(10), random_rotate([-30, 45, 90])],
}


@pytest.mark.parametrize("chain", FUSABLE, ids=list(FUSABLE))
@pytest.mark.parametrize("size", [(40, 56), (33, 21)])
def test_crop_back_is_the_chain_then_the_centre_crop_in_one_resample(chain, size):
    transforms = FUSABLE[chain]
    image = torch.rand(3, 3, *size, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    step_by_step, fused = generator(5, "t"), generator(5, "t")
    expected = crop_center(compose(transforms)(image, step_by_step), *size)
    got = crop_back(transforms)(image, fused)
    assert crop_back(transforms)._plan(*size) is not None  # the one-resample path ran
    assert got.shape == expected.shape == (3, 3, *size)  # the size that was asked for
    assert torch.allclose(got, expected, atol=1e-4)  # same draws, same views, to float rounding
    assert torch.equal(torch.rand(4, generator=step_by_step), torch.rand(4, generator=fused))  # same draws used
    weights = torch.rand(got.shape, generator=torch.Generator().manual_seed(2))
    grad_expected, = torch.autograd.grad((expected * weights).sum(), image)
    grad_got, = torch.autograd.grad((got * weights).sum(), image)
    assert torch.allclose(grad_got, grad_expected, atol=1e-4)


def test_crop_back_runs_other_chains_step_by_step():
    image = _image(size=20)
    for transforms in ([pad(6, mode="reflect"), jitter(4), random_scale([0.9, 1.1])],  # reflect: no constant fill
                       [pad(3), jitter(4), random_rotate([5])],  # the jitter eats into the image before the warp
                       [jitter(4)], []):
        assert crop_back(transforms)._plan(20, 20) is None
        expected = crop_center(compose(transforms)(image, generator(1)), 20, 20)
        assert torch.equal(crop_back(transforms)(image, generator(1)), expected)
    expected = crop_center(compose(STANDARD)(image, generator(1)), 20, 20)
    assert torch.equal(crop_back(STANDARD, fused=False)(image, generator(1)), expected)  # asked to


def test_affine_grid_is_torchs():
    theta = affine_matrices(torch.tensor([0.9, 1.2]), torch.tensor([10.0, -33.0]), 7, 11).float()
    theta[:, :, 2] = torch.tensor([[0.1, -0.2], [0.3, 0.05]])
    expected = torch.nn.functional.affine_grid(theta, [2, 3, 7, 11], align_corners=False)
    assert torch.allclose(affine_grid(theta, 7, 11), expected, atol=1e-6)


def test_same_seed_same_pixels_different_seed_different_pixels():
    image = _image()
    transform = compose(STANDARD)
    first = transform(image, generator(3, "transforms"))
    again = transform(image, generator(3, "transforms"))
    other = transform(image, generator(4, "transforms"))
    assert torch.equal(first, again)
    assert not torch.allclose(first, other)


def test_sampled_values_replay_the_same_effect():
    image, transform = _image(), compose(STANDARD)
    params = transform.sample(2, generator(5))
    assert torch.equal(transform.apply(image, params), transform(image, generator(5)))


def test_gradient_flows_to_the_image():
    image = _image().requires_grad_(True)
    compose(STANDARD)(image, generator(0)).square().sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0


def test_zero_rotation_and_unit_scale_are_identity():
    image = _image()
    assert torch.allclose(random_rotate([0])(image, generator(0)), image, atol=1e-6)
    assert torch.allclose(random_scale([1.0])(image, generator(0)), image, atol=1e-6)


def test_rotate_90_matches_rot90():
    image = _image(size=16)
    rotated = random_rotate([90])(image, generator(0))
    expected = torch.rot90(image, 1, dims=(-2, -1))
    assert torch.allclose(rotated[..., 1:-1, 1:-1], expected[..., 1:-1, 1:-1], atol=1e-5)


def test_rotation_keeps_shapes_round_on_non_square_images():
    # A 90 degree turn of a centred square patch on a wide image is the same patch turned, not a shear.
    image = torch.zeros(1, 3, 16, 32)
    image[..., 4:12, 12:20] = torch.rand(3, 8, 8, generator=torch.Generator().manual_seed(2))
    rotated = random_rotate([90], fill=0.0)(image, generator(0))
    expected = torch.rot90(image[..., 4:12, 12:20], 1, dims=(-2, -1))
    assert torch.allclose(rotated[..., 4:12, 12:20], expected, atol=1e-5)


def test_scale_zooms_about_the_centre():
    image = torch.zeros(1, 1, 33, 33)
    image[..., 16, 16] = 1.0
    zoomed = random_scale([1.1])(image, generator(0))
    assert zoomed[0, 0].argmax() == 16 * 33 + 16


def test_each_batch_item_gets_its_own_draw():
    image = _image(batch=1).expand(2, -1, -1, -1)  # two identical items
    transform = jitter(8)
    seed = next(s for s in range(100) if not torch.equal(*transform.sample(2, generator(s))))
    out = transform(image, generator(seed))
    assert not torch.equal(out[0], out[1])


def test_standard_set_returns_finite_image_of_expected_size():
    out = compose(STANDARD)(_image(size=64), generator(0))
    # +2*12 pad, -8 and -4 jitter; scale and rotation keep the size.
    assert out.shape == (2, 3, 76, 76) and torch.isfinite(out).all()


def test_standard_set_is_lucids():
    assert describe(STANDARD) == (
        "pad(12, value=0.5) -> jitter(8) -> random_scale(0.9..1.1, 11 choices)"
        " -> random_rotate(-10..10 degrees, 26 choices) -> jitter(4)"
    )
    assert STANDARD[3].angles.count(0.0) == 6


def test_sets_are_found_and_named_by_name():
    assert transforms_by_name("standard") == standard_transforms()
    assert transforms_by_name("none") == []
    assert name_of(transforms_by_name("standard")) == "standard"
    assert name_of([jitter(3)]) is None
    assert set(TRANSFORM_SETS) == {"standard", "none"}


def test_unknown_set_name_error_names_nearest():
    with pytest.raises(ReverieError, match=r"unknown transform set 'standrad' \(nearest: standard"):
        transforms_by_name("standrad")


def test_jitter_larger_than_image_is_a_clear_error():
    with pytest.raises(ReverieError, match="jitter\\(8\\) needs an image larger than 8 px"):
        jitter(8)(torch.rand(1, 3, 6, 6), generator(0))


def test_non_image_input_is_rejected_with_its_shape():
    with pytest.raises(ReverieError, match=r"expected a float image \[B, C, H, W\], got \[3, 8, 8\]"):
        pad(2)(torch.rand(3, 8, 8), generator(0))


# --- canvas views -----------------------------------------------------------------------------------

def test_canvas_views_are_added_only_for_a_canvas_longer_than_the_view():
    from reverie.robustness import canvas_views

    assert canvas_views(224, 224, 384) == [] and canvas_views(384, 200, 384) == []  # old pixels: no draws
    assert canvas_views(576, 1024, 0) == []
    (view,) = canvas_views(576, 1024, 384)
    assert view.zooms[0] == 1 and view.zooms[-1] == pytest.approx(384 / 1024)


def test_a_canvas_view_keeps_the_aspect_and_every_pixel_gets_gradient():
    from reverie.robustness import canvas_views

    (view,) = canvas_views(96, 160, 40)
    canvas = torch.rand(1, 3, 96, 160, requires_grad=True)
    seen = torch.zeros(96, 160)
    g = generator(0, "transforms")
    for _ in range(12):
        out = view(canvas, g)
        assert out.shape == (1, 3, 24, 40)  # the canvas's aspect, long side 40
        (grad,) = torch.autograd.grad(out.sum(), canvas)
        seen += grad.abs().sum(dim=(0, 1))
    assert bool((seen > 0).all()), "the whole-canvas view reaches every pixel"


@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("batch", [1, 3])
def test_grid_sample_spread_over_threads_gives_torchs_bits_forward_and_backward(padding, batch):
    # Resampling one image's channels as separate items (so more than one core works on it) must not
    # change a pixel of any render: the same arithmetic per channel.
    import torch.nn.functional as F

    from reverie.machine import intra_op_threads
    from reverie.robustness import grid_sample
    source = torch.Generator().manual_seed(3)
    image = torch.rand(batch, 3, 37, 41, generator=source)
    theta = torch.tensor([[[0.9, 0.2, 0.05], [-0.15, 1.1, -0.1]]]).repeat(batch, 1, 1)
    grid = F.affine_grid(theta, [batch, 3, 29, 31], align_corners=False)
    upstream = torch.randn(batch, 3, 29, 31, generator=source)
    results = []
    for ours in (True, False):
        leaf = image.clone().requires_grad_(True)
        with intra_op_threads(4):  # more threads than items: the channels are spread
            out = (grid_sample(leaf, grid, padding) if ours
                   else F.grid_sample(leaf, grid, mode="bilinear", padding_mode=padding, align_corners=False))
            (gradient,) = torch.autograd.grad(out, leaf, upstream)
        results.append((out, gradient))
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])
