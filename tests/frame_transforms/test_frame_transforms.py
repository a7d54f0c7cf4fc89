"""Frame transforms: each one's defining property, seeded replay, shape and range, and text round trips."""
from __future__ import annotations

import math

import pytest
import torch

from reverie.errors import ReverieError
from reverie.frame_transforms import (FUNCTIONS, FrameContext, FrameTransform, affine, alternate_roll,
                                      apply_frame_transforms, blend, blur, colour_match, hue_shift, kaleidoscope, keys, linear,
                                      mirror, parse_frame_transform, parse_frame_transforms, perlin_noise, perlin_warp,
                                      pixel_sort, posterize,
                                      prewitt, random_shift, roll, rotate, sharpen, sin, sobel, stretch, translate,
                                      zoom)
from reverie.frame_transforms.roll import line_values


def _frame(height: int = 32, width: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(seed))


def _smooth(size: int = 33) -> torch.Tensor:
    """A frame of gentle gradients, for comparisons that go through bilinear resampling twice."""
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    return torch.stack([x, y, 0.5 + 0.5 * torch.sin(3 * x + 2 * y) * x])[None].clamp(0, 1)


def _context(frame_index: int = 0, seed: int = 0, source: torch.Tensor | None = None) -> FrameContext:
    return FrameContext(frame_index, 100, torch.Generator().manual_seed(seed), source)


def _row_codes(height: int = 32, width: int = 40) -> torch.Tensor:
    """Pixel (i, j) holds i / height in every channel, so a pixel's value says which row it came from."""
    rows = torch.arange(height, dtype=torch.float32)[:, None].expand(height, width) / height
    return rows[None, None].expand(1, 3, height, width).clone()


def _column_shifts(rolled: torch.Tensor) -> torch.Tensor:
    """For a rolled ``_row_codes`` frame: how far down each column's row 0 went."""
    return rolled[0, 0].argmin(dim=0)  # row 0 holds the value 0, the smallest


# Every built-in transform, with non-default settings where it has any, for the shared checks.
EVERY_TRANSFORM = [
    zoom(0.05), zoom(keys("0:0.01, 100:0.05")), stretch(0.1, axis=0), rotate(10), translate(x=2.5, y=-1),
    affine(1, 0.2, 0, 1, tx=1), roll(axis=1, shift=sin(amplitude=6, period=80)),
    roll(axis=0, shift=linear(0.5, offset=2), group=4), alternate_roll(shift=3),
    random_shift(axis=0, low=0, high=linear(0.1, offset=1)), sobel(), prewitt(colour=False), blur(1.5),
    sharpen(2, sigma=keys("0:1, 50:2", mode="step")), pixel_sort(axis=0, threshold=0.4, reverse=True),
    hue_shift(90), posterize(4), kaleidoscope(5, angle=15), mirror(axis=0), blend(0.3),
    sobel(keep="colour", mix=0.3, match=keys("0:0, 50:1")), prewitt(keep="luminance", mix=1, match=0),
    colour_match(0.5), perlin_warp(3, scale=16, speed=0.1, seed=2), perlin_noise(keys("0:0, 50:0.2"), scale=8),
]


# --- geometry ----------------------------------------------------------------------------------

def test_zoom_keeps_centre_pixel():
    frame = _frame(33, 33)
    zoomed = zoom(0.5)(frame, _context())
    assert torch.allclose(zoomed[..., 16, 16], frame[..., 16, 16], atol=1e-5)
    assert not torch.allclose(zoomed, frame, atol=0.05)


def test_zoom_moves_content_away_from_the_centre():
    frame = torch.zeros(1, 3, 33, 33)
    frame[..., 16, 20] = 1.0  # four pixels right of the centre
    zoomed_in = zoom(1.0)(frame, _context())  # twice the size: eight pixels right
    assert zoomed_in[0, 0].flatten().argmax() == 16 * 33 + 24
    frame[..., 16, 20], frame[..., 16, 24] = 0.0, 1.0  # now eight pixels right of the centre
    zoomed_out = zoom(-0.5)(frame, _context())  # half the size: four pixels right
    assert zoomed_out[0, 0, 16].argmax() == 20


def test_zoom_and_rotate_by_zero_are_identity():
    frame = _frame(31, 40)
    for transform in (zoom(0), rotate(0), translate(), affine(1, 0, 0, 1), stretch(0)):
        assert torch.allclose(transform(frame, _context()), frame, atol=1e-5), transform


def test_stretch_changes_only_one_axis():
    along_x = torch.linspace(0, 1, 32)[None, None, None, :].expand(1, 3, 32, 32)  # varies across columns only
    along_y = along_x.transpose(-1, -2)                                          # varies down rows only
    vertical = stretch(0.5, axis=1)
    assert torch.allclose(vertical(along_x, _context()), along_x, atol=1e-5)
    stretched = vertical(along_y, _context())
    assert not torch.allclose(stretched, along_y, atol=0.05)
    assert torch.allclose(stretched, stretched[..., :1].expand_as(stretched))  # rows stay flat
    assert torch.allclose(stretch(0.5, axis=0)(along_y, _context()), along_y, atol=1e-5)


def test_rotate_90_matches_rot90():
    frame = _frame(17, 17)
    turned = rotate(90)(frame, _context())
    assert torch.allclose(turned, torch.rot90(frame, 1, dims=(-2, -1)), atol=1e-5)


def test_translate_by_whole_pixels_moves_content_exactly():
    frame = _frame()
    moved = translate(x=3, y=-2)(frame, _context())
    assert torch.allclose(moved[..., 0:28, 3:], frame[..., 2:30, :29], atol=1e-5)


def test_affine_with_a_scaled_identity_is_zoom():
    frame = _frame(33, 33)
    assert torch.allclose(affine(1.2, 0, 0, 1.2)(frame, _context()), zoom(0.2)(frame, _context()), atol=1e-6)
    with pytest.raises(ReverieError, match="singular"):
        affine(1, 2, 2, 4)(frame, _context())


# --- rolls -------------------------------------------------------------------------------------

def test_roll_of_k_moves_each_column_down_by_k_exactly():
    frame = _frame(32, 40)
    rolled = roll(axis=1, shift=5)(frame, _context())
    assert torch.equal(rolled, torch.roll(frame, 5, dims=-2))  # pixel (i, j) -> (i + 5, j)
    rows_rolled = roll(axis=0, shift=-3)(frame, _context())
    assert torch.equal(rows_rolled, torch.roll(frame, -3, dims=-1))  # pixel (i, j) -> (i, j - 3)


def test_linear_roll_moves_column_j_by_its_own_shift_and_keeps_colours():
    frame = _frame(32, 40)
    rolled = roll(axis=1, shift=linear(0.5, offset=1))(frame, _context())
    for j in range(40):
        assert torch.equal(rolled[..., j], torch.roll(frame[..., j], round(0.5 * j + 1), dims=-1))
    # Each column is a permutation of itself: the same RGB triples, none mixed.
    before = frame[0].permute(2, 1, 0)  # [W, H, 3]
    after = rolled[0].permute(2, 1, 0)
    for j in range(40):
        assert torch.equal(torch.unique(before[j], dim=0), torch.unique(after[j], dim=0))


def test_sine_roll_shift_matches_amplitude_and_period():
    rolled = roll(axis=1, shift=sin(amplitude=6, period=20))(_row_codes(32, 40), _context())
    shifts = _column_shifts(rolled)
    expected = torch.tensor([round(6 * math.sin(2 * math.pi * j / 20)) for j in range(40)]) % 32
    assert torch.equal(shifts, expected)
    assert torch.equal(shifts[:20], shifts[20:])  # repeats every 20 columns
    assert {int(s) for s in shifts} >= {6, 32 - 6}  # reaches +6 and -6


def test_roll_group_shares_shifts():
    rolled = roll(axis=1, shift=linear(1), group=4)(_row_codes(32, 40), _context())
    shifts = _column_shifts(rolled)
    assert torch.equal(shifts, (torch.arange(40) // 4) * 4 % 32)  # columns 4k..4k+3 all move 4k, wrapped


def test_roll_accepts_a_python_callable_but_cannot_write_it():
    transform = roll(shift=lambda j: j % 3)
    shifts = _column_shifts(transform(_row_codes(), _context()))
    assert torch.equal(shifts, torch.arange(40) % 3)
    with pytest.raises(ReverieError, match="cannot be written"):
        transform.expression()
    assert str(transform).startswith("Roll(")  # messages can still name it


def test_alternate_roll_moves_rows_on_even_frames_and_columns_on_odd():
    frame, transform = _frame(), alternate_roll(shift=2)
    assert torch.equal(transform(frame, _context(frame_index=4)), torch.roll(frame, 2, dims=-1))
    assert torch.equal(transform(frame, _context(frame_index=5)), torch.roll(frame, 2, dims=-2))


# --- stochastic --------------------------------------------------------------------------------

def test_seeded_random_shift_repeats_for_the_same_seed():
    frame, transform = _frame(), random_shift()
    first = transform(frame, _context(seed=3))
    assert torch.equal(first, transform(frame, _context(seed=3)))
    assert not torch.equal(first, transform(frame, _context(seed=4)))


def test_random_shift_drift_bounds_are_respected():
    height = 64
    shifts = _column_shifts(random_shift(low=0, high=3)(_row_codes(height, 400), _context()))
    counts = torch.bincount(shifts, minlength=height)
    assert counts[4:].sum() == 0  # 0..3 inclusive, each equally likely: about 100 of 400
    assert (counts[:4] > 60).all() and (counts[:4] < 140).all()
    low, high = linear(0.05), linear(0.05, offset=2)
    shifts = _column_shifts(random_shift(low=low, high=high)(_row_codes(height, 200), _context(seed=1)))
    assert (shifts >= line_values(low, 200, 0).ceil()).all()
    assert (shifts <= line_values(high, 200, 0).floor()).all()
    with pytest.raises(ReverieError, match="low <= high"):
        random_shift(low=2, high=1)(_frame(), _context())


# --- filters -----------------------------------------------------------------------------------

BARE = {"mix": 1, "match": 0}  # the bare edge map, without the anchoring an animation's filters get


@pytest.mark.parametrize("edges", [sobel(**BARE), sobel(colour=False, **BARE), prewitt(**BARE),
                                   prewitt(colour=False, **BARE)])
def test_sobel_and_prewitt_of_a_flat_frame_are_zero(edges):
    flat = torch.full((1, 3, 32, 32), 0.3)
    assert torch.allclose(edges(flat, _context()), torch.zeros_like(flat), atol=1e-6)
    step = flat.clone()
    step[..., 16:] = 0.8
    assert edges(step, _context()).max() == pytest.approx(1.0)  # stretched: the strongest edge is 1


@pytest.mark.parametrize("edges", [sobel, prewitt])
def test_colour_edges_keep_hue_and_grey_edges_have_equal_channels(edges):
    frame = torch.zeros(1, 3, 32, 32)
    frame[:, :2, :, 16:] = torch.tensor([1.0, 0.5])[:, None, None]  # black | orange
    coloured = edges(**BARE)(frame, _context())
    assert coloured[:, 0].max() == pytest.approx(1.0) and coloured[:, 2].abs().max() < 1e-6
    assert torch.allclose(coloured[:, 1], 0.5 * coloured[:, 0], atol=1e-6)  # still orange
    grey = edges(colour=False, **BARE)(frame, _context())
    assert grey.max() > 0.5 and torch.equal(grey[:, 0], grey[:, 1]) and torch.equal(grey[:, 1], grey[:, 2])


def test_an_edge_filter_blends_back_to_the_frame_it_filtered_by_default():
    frame, source = _frame(), _frame(seed=4)
    bare = sobel(**BARE)(frame, _context())
    half = sobel(match=0)(frame, _context(source=source))  # mix unset: half the edges, half the frame
    assert torch.allclose(half, (frame + bare) / 2, atol=1e-6)


def test_keep_colour_takes_brightness_from_the_edges_and_chroma_from_the_frame():
    import kornia

    frame = 0.4 + 0.2 * _smooth()  # mild colours, so few pixels leave [0, 1] with the edges' brightness
    out = sobel(keep="colour", **BARE)(frame, _context())
    ycbcr = lambda image: kornia.color.rgb_to_ycbcr(image)  # noqa: E731
    unclipped = ((out > 0.005) & (out < 0.995)).all(dim=1, keepdim=True)  # where [0, 1] left the colour alone
    assert unclipped.float().mean() > 0.5
    edges = sobel(colour=False, **BARE)(frame, _context())[:, :1]
    assert torch.allclose(ycbcr(out)[:, :1][unclipped], edges[unclipped], atol=1e-3)
    assert torch.allclose(ycbcr(out)[:, 1:][unclipped.expand(-1, 2, -1, -1)],
                          ycbcr(frame)[:, 1:][unclipped.expand(-1, 2, -1, -1)], atol=1e-3)


def test_colour_match_gives_each_channel_the_sources_histogram():
    frame = _frame() * 0.3  # dark
    source = torch.stack([torch.linspace(0, 1, 32 * 32).reshape(32, 32)] * 3)[None] ** torch.tensor(
        [1.0, 2.0, 0.5])[None, :, None, None]
    matched = colour_match()(frame, _context(source=source))
    for channel in range(3):
        assert torch.allclose(matched[0, channel].flatten().sort().values, source[0, channel].flatten().sort().values,
                              atol=2e-3)
    assert torch.equal(matched[0, 0].flatten().argsort(), frame[0, 0].flatten().argsort())  # the order stays
    assert torch.allclose(colour_match(0)(frame, _context(source=source)), frame)
    with pytest.raises(ReverieError, match="colour_match needs the source image"):
        colour_match()(frame, _context())


def test_an_edge_filter_outside_an_animation_matches_nothing():
    frame = _frame()
    assert torch.allclose(sobel(mix=1)(frame, _context()), sobel(**BARE)(frame, _context()))


def test_perlin_warp_drifts_smoothly_and_the_same_frame_gets_the_same_field():
    frame = _smooth(48)
    assert torch.allclose(perlin_warp(0)(frame, _context(5)), frame, atol=1e-6)  # no displacement
    warp = perlin_warp(4, scale=16, speed=0.05)
    at = {index: warp(frame, _context(index, seed=index)) for index in (10, 11, 40)}
    assert torch.equal(at[10], warp(frame, _context(10, seed=99)))  # from its seed, not the frame's generator
    assert (at[10] - frame).abs().mean() > 0.005  # it moves the picture
    assert (at[11] - at[10]).abs().mean() < 0.3 * (at[40] - at[10]).abs().mean()  # neighbours are close
    assert not torch.equal(perlin_warp(4, scale=16, seed=1)(frame, _context(10)), at[10])


def test_perlin_noise_adds_a_smooth_field_of_its_amount():
    grey = torch.full((1, 3, 48, 48), 0.5)
    noisy = perlin_noise(0.2, scale=16)(grey, _context(3))
    change = noisy - grey
    assert 0.02 < change.abs().max() <= 0.2 + 1e-6
    assert (change[..., 1:] - change[..., :-1]).abs().max() < 0.05  # smooth: neighbours differ little
    assert not torch.equal(change[:, 0], change[:, 1])  # a field per channel: colour noise


def test_blur_preserves_the_mean():
    frame = _frame(64, 64)
    blurred = blur(2)(frame, _context())
    assert blurred.mean().item() == pytest.approx(frame.mean().item(), abs=2e-3)
    assert blurred.std() < 0.5 * frame.std()


def test_sharpen_steepens_a_soft_edge_and_leaves_flat_areas():
    soft = blur(2)(torch.cat([torch.full((1, 3, 32, 16), 0.3), torch.full((1, 3, 32, 16), 0.7)], -1), _context())
    sharp = sharpen(1.5, sigma=2)(soft, _context())
    steepness = lambda image: (image[..., 1:] - image[..., :-1]).abs().max()  # noqa: E731
    assert steepness(sharp) > 1.3 * steepness(soft)
    flat = torch.full((1, 3, 16, 16), 0.4)
    assert torch.allclose(sharpen(3)(flat, _context()), flat, atol=1e-6)


# --- glitch and colour -------------------------------------------------------------------------

def test_posterize_gives_at_most_levels_values_per_channel():
    out = posterize(4)(_frame(), _context())
    for channel in out[0]:
        assert len(torch.unique(channel)) <= 4
    assert torch.allclose(out, (_frame() * 3).round() / 3)


def test_hue_shift_360_is_identity_and_120_takes_red_to_green():
    frame = _frame()
    assert torch.allclose(hue_shift(360)(frame, _context()), frame, atol=1e-5)
    red = torch.zeros(1, 3, 4, 4)
    red[:, 0] = 1.0
    green = torch.zeros(1, 3, 4, 4)
    green[:, 1] = 1.0
    assert torch.allclose(hue_shift(120)(red, _context()), green, atol=1e-5)


@pytest.mark.parametrize("axis, reverse", [(0, False), (1, False), (1, True)])
def test_pixel_sort_permutes_each_line_and_sorts_within_bright_runs(axis, reverse):
    frame, threshold = _frame(24, 40), 0.4
    out = pixel_sort(axis=axis, threshold=threshold, reverse=reverse)(frame, _context())
    # Lines as [lines, length, 3]: columns for axis 1, rows for axis 0.
    as_lines = lambda image: image[0].permute(2, 1, 0) if axis == 1 else image[0].permute(1, 2, 0)  # noqa: E731
    luma = lambda lines: lines @ torch.tensor([0.299, 0.587, 0.114])  # noqa: E731
    before, after = as_lines(frame), as_lines(out)
    assert not torch.equal(before, after)
    for line_before, line_after in zip(before, after):
        assert torch.equal(torch.unique(line_before, dim=0), torch.unique(line_after, dim=0))
        bright_before, bright = luma(line_before) >= threshold, luma(line_after) >= threshold
        assert torch.equal(bright_before, bright)  # dark pixels stay put, so the runs do too
        assert torch.equal(line_after[~bright], line_before[~bright])
        step = luma(line_after)[1:] - luma(line_after)[:-1]
        ordered = step <= 1e-7 if reverse else step >= -1e-7
        assert ordered[bright[1:] & bright[:-1]].all()  # darkest first (or brightest) inside every run


def test_pixel_sort_with_zero_threshold_sorts_whole_lines():
    out = pixel_sort(axis=1, threshold=0, reverse=True)(_frame(), _context())
    luma = out[0].permute(1, 2, 0) @ torch.tensor([0.299, 0.587, 0.114])  # [H, W]
    assert (luma[1:] <= luma[:-1] + 1e-7).all()  # every column brightest first


# --- symmetry ----------------------------------------------------------------------------------

def test_kaleidoscope_output_is_symmetric():
    frame = _frame(33, 33)
    four = kaleidoscope(4)(frame, _context())
    # Turning by 360/4 degrees leaves it unchanged; so does the mirror across the wedge edge (the row axis).
    assert torch.allclose(torch.rot90(four, 1, dims=(-2, -1)), four, atol=1e-5)
    assert torch.allclose(torch.flip(four, dims=(-2,)), four, atol=1e-5)
    assert not torch.allclose(torch.flip(frame, dims=(-2,)), frame, atol=0.1)
    # Six-fold: a 60 degree turn (itself bilinear, so on a smooth frame) leaves the interior disc alone.
    six = kaleidoscope(6, angle=10)(_smooth(), _context())
    turned = rotate(60)(six, _context())
    y, x = torch.meshgrid(torch.arange(33) - 16.0, torch.arange(33) - 16.0, indexing="ij")
    disc = x ** 2 + y ** 2 < 14 ** 2
    assert (turned - six).abs()[..., disc].max() < 0.03
    assert (rotate(30)(six, _context()) - six).abs()[..., disc].max() > 0.05


def test_mirror_makes_each_column_read_the_same_flipped():
    frame = _frame(31, 32)
    out = mirror(axis=1)(frame, _context())
    assert torch.equal(out, torch.flip(out, dims=(-2,)))
    assert torch.equal(out[..., :16, :], frame[..., :16, :])  # the top half is kept
    rows = mirror(axis=0)(frame, _context())
    assert torch.equal(rows, torch.flip(rows, dims=(-1,))) and torch.equal(rows[..., :16], frame[..., :16])


# --- blend -------------------------------------------------------------------------------------

def test_blend_zero_is_identity_and_one_gives_the_source():
    frame, source = _frame(seed=1), _frame(seed=2)
    context = _context(source=source)
    assert torch.equal(blend(0)(frame, context), frame)
    assert torch.equal(blend(1)(frame, context), source)
    assert torch.allclose(blend(0.25)(frame, context), 0.75 * frame + 0.25 * source)
    with pytest.raises(ReverieError, match="source"):
        blend(0.5)(frame, _context())


# --- all transforms: contract, keyframes, text ----------------------------------------------------

@pytest.mark.parametrize("transform", EVERY_TRANSFORM, ids=str)
def test_transforms_keep_shape_and_range(transform):
    frame = _frame(32, 48)
    for index in (0, 1, 60):
        out = transform(frame, _context(frame_index=index, source=_frame(seed=9)))
        assert out.shape == frame.shape and out.dtype == frame.dtype
        assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("transform", EVERY_TRANSFORM, ids=str)
def test_expression_parses_back_to_an_equal_transform(transform):
    text = transform.expression()
    assert parse_frame_transform(text) == transform
    assert parse_frame_transform(text).expression() == text


def test_every_registered_transform_is_covered_by_the_checks():
    covered = {type(t).NAME for t in EVERY_TRANSFORM}
    registered = {name for name, f in FUNCTIONS.items() if isinstance(f, type) and issubclass(f, FrameTransform)}
    assert covered == registered


def test_parse_reads_the_documented_examples():
    assert parse_frame_transform("roll(axis=1, shift=sin(amplitude=6, period=80))") == roll(
        axis=1, shift=sin(6, 80))
    assert parse_frame_transform('zoom(keys("0:0.01, 100:0.05"))') == zoom(keys("0:0.01, 100:0.05"))
    assert parse_frame_transform("sobel(colour=False)") == sobel(colour=False)
    assert parse_frame_transforms(["zoom(0.02)", "rotate(-1.5)"]) == [zoom(0.02), rotate(-1.5)]


def test_keyframed_zoom_follows_its_keys():
    frame, transform = _frame(33, 33), zoom(keys("0:0, 10:0.5"))
    assert torch.allclose(transform(frame, _context(frame_index=0)), frame, atol=1e-5)
    assert torch.allclose(transform(frame, _context(frame_index=20)), zoom(0.5)(frame, _context()), atol=1e-6)
    assert torch.allclose(transform(frame, _context(frame_index=5)), zoom(0.25)(frame, _context()), atol=1e-6)


def test_unknown_transform_name_error_names_nearest():
    with pytest.raises(ReverieError, match=r"unknown function 'kaleidoscop' \(nearest: kaleidoscope\)"):
        parse_frame_transform("kaleidoscop(6)")


@pytest.mark.parametrize("text, message", [
    ("zoom()", "bad arguments to zoom"),
    ("zoom(0.1) + zoom(0.2)", r"cannot apply '\+'"),
    ("sin(amplitude=6, period=80)", "not a frame transform"),
    ("zoom('lots')", "amount must be a number"),
    ("roll(axis=2)", "axis must be 0"),
    ("roll(shift=zoom(0.1))", "shift must be a number"),
    ("sobel(colour=maybe)", "colour must be True or False"),
    ('sobel(keep="colr")', r"unknown keep 'colr' \(nearest: colour\)"),
    ("prewitt(mix=2)", "prewitt: mix must be from 0 to 1, got 2"),
    ("colour_match(-1)", "colour_match: amount must be from 0 to 1"),
    ("perlin_warp(2, scale=0)", "perlin_warp: scale must be above 0 pixels"),
    ("perlin_noise(seed=-1)", "perlin_noise: seed must be a whole number 0 or more"),
    ("posterize(1)", "levels must be a whole number 2 or more"),
    ("zoom(keys(\"0:0.1 5:1\"))", "expected FRAME:VALUE"),
    ("__import__('os')", "unknown function"),
])
def test_bad_transform_text_is_a_one_line_error(text, message):
    with pytest.raises(ReverieError, match=message) as info:
        parse_frame_transform(text)
    assert "\n" not in str(info.value)


def test_apply_frame_transforms_runs_in_order_and_checks_shapes():
    frame = _frame()
    out = apply_frame_transforms([roll(shift=3), roll(axis=0, shift=2)], frame, _context())
    assert torch.equal(out, torch.roll(frame, (3, 2), dims=(-2, -1)))
    with pytest.raises(ReverieError, match="changed the frame"):
        apply_frame_transforms([lambda image, context: image[..., :-1]], frame, _context())
