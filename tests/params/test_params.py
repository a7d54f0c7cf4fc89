"""Image parameterizations: shapes and range, gradients, seeding, spectra, init round trips, noise, alpha, sharing."""
from __future__ import annotations

import pytest
import torch

from reverie.errors import ReverieError
from reverie.params import (COLOUR_CORRELATION, PARAMS, CPPNParam, FourierParam, PixelParam, SharedParam,
                            aligned_fourier, composite, from_rgb, make_param, noise_image, perlin, perlin1d,
                            perlin2d, perlin3d, random_background, to_rgb)
from reverie.randomness import generator

# Odd and non-square on purpose: rfft sizes, aspect ratios and upsampling all have edge cases there.
HEIGHT, WIDTH = 31, 45
NAMES = sorted(PARAMS)


def build(name: str, seed: int = 0, batch: int = 2, channels: int = 3, **options):
    return make_param(name, HEIGHT, WIDTH, batch, channels, generator(seed, "param"), **options)


def visible(param):
    """CPPNs start uniform grey (zero output layer); give them a fixed output layer so their hidden layers show."""
    if isinstance(param, CPPNParam):
        with torch.no_grad():
            weight = param.weights[-1]
            weight.copy_(torch.randn(weight.shape, generator=generator(99, "output")))
    return param


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().flatten(), b.detach().flatten()
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / (a.norm() * b.norm()))


def radial_power_ratio(image: torch.Tensor) -> float:
    """Mean spectral power at low frequencies (0 < f < 0.1 cycles/pixel) over that at high ones (f > 0.3)."""
    image = image.detach() - image.detach().mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.rfft2(image).abs().square().mean(dim=(0, 1))  # [H, W//2+1]
    h, w = image.shape[-2:]
    frequency = torch.sqrt(torch.fft.fftfreq(h)[:, None] ** 2 + torch.fft.rfftfreq(w)[None, :] ** 2)
    low = power[(frequency > 0) & (frequency < 0.1)].mean()
    high = power[frequency > 0.3].mean()
    return float(low / high)


# --- every param: the contract ---------------------------------------------------------------------

@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("name", NAMES)
def test_param_gives_batch_of_images_in_unit_range(name, channels):
    param = visible(build(name, channels=channels))
    image = param().detach()
    assert image.shape == (2, channels, HEIGHT, WIDTH)
    assert (param.batch, param.channels, param.height, param.width) == (2, channels, HEIGHT, WIDTH)
    assert image.dtype == torch.float32
    assert float(image.min()) >= 0 and float(image.max()) <= 1
    assert float(image.std()) > 0  # not a constant image


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_parameter(name):
    param = build(name, channels=4)
    optimizer = torch.optim.Adam(param.parameters(), lr=0.05)
    target = torch.rand(2, 4, HEIGHT, WIDTH, generator=generator(0, "target"))
    # Two steps: a CPPN's zero output layer blocks gradient to its hidden layers until it has moved once.
    for _ in range(2):
        optimizer.zero_grad()
        loss = (param() - target).square().mean()
        loss.backward()
        optimizer.step()
    for parameter_name, parameter in param.named_parameters():
        assert parameter.grad is not None and float(parameter.grad.abs().max()) > 0, parameter_name
    with torch.no_grad():
        assert float((param() - target).square().mean()) < float(loss)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_pixels(name):
    assert torch.equal(visible(build(name, seed=3))(), visible(build(name, seed=3))())


@pytest.mark.parametrize("name", NAMES)
def test_different_seed_different_pixels(name):
    assert not torch.allclose(visible(build(name, seed=3))(), visible(build(name, seed=4))())


@pytest.mark.parametrize("name", ["pixel", "fft", "aligned"])
def test_render_resizes_bilinearly(name):
    param = build(name)
    assert param.render().shape == (2, 3, HEIGHT, WIDTH)
    assert param.render(20, 64).shape == (2, 3, 20, 64)
    assert torch.equal(param.render(), param())


def test_bad_sizes_and_generators_are_refused():
    with pytest.raises(ReverieError, match="expected height as a positive integer, got 0"):
        PixelParam(0, 5, generator=generator(0, "param"))
    with pytest.raises(ReverieError, match="expected channels 3 \\(RGB\\) or 4 \\(RGBA\\), got 2"):
        FourierParam(5, 5, channels=2, generator=generator(0, "param"))
    with pytest.raises(TypeError, match="CPU torch.Generator"):
        FourierParam(5, 5, generator=7)


# --- colour ----------------------------------------------------------------------------------------

def test_decorrelation_columns_have_max_norm_one():
    norms = COLOUR_CORRELATION.norm(dim=0)
    assert float(norms.max()) == pytest.approx(1.0, abs=1e-6)
    assert bool((norms < 1 - 1e-3).sum() == 2)  # the weaker components stay weaker
    # The first component is (close to) luminance: it raises R, G and B alike.
    assert torch.allclose(COLOUR_CORRELATION[:, 0], COLOUR_CORRELATION[0, 0].expand(3), atol=0.03)


def test_from_rgb_inverts_to_rgb():
    t = torch.randn(2, 3, 5, 7, generator=generator(0, "colour"))
    assert torch.allclose(from_rgb(to_rgb(t)), t, atol=1e-5)
    assert torch.allclose(to_rgb(t)[:, :, 2, 3], t[:, :, 2, 3] @ COLOUR_CORRELATION.T, atol=1e-6)


# --- Fourier ---------------------------------------------------------------------------------------

def test_fourier_spectrum_falls_with_frequency():
    # A large sd makes the image far from grey; the scale, not the init, must set its spectrum.
    fourier = FourierParam(48, 64, sd=0.5, generator=generator(0, "spectrum"))()
    pixel = PixelParam(48, 64, sd=0.5, generator=generator(0, "spectrum"))()
    assert radial_power_ratio(fourier) > 20
    assert radial_power_ratio(pixel) < 2  # white noise: flat
    steeper = FourierParam(48, 64, sd=0.5, decay_power=1.5, generator=generator(0, "spectrum"))()
    assert radial_power_ratio(steeper) > 3 * radial_power_ratio(fourier)


def test_fourier_spectrum_parameter_has_rfft_shape():
    param = FourierParam(HEIGHT, WIDTH, batch=2, channels=4, generator=generator(0, "param"))
    assert param.spectrum.shape == (2, 4, HEIGHT, WIDTH // 2 + 1, 2)
    assert [name for name, _ in param.named_parameters()] == ["spectrum"]


# --- init images -----------------------------------------------------------------------------------

@pytest.mark.parametrize("decorrelate", [True, False])
@pytest.mark.parametrize("kind", [PixelParam, FourierParam])
def test_init_image_round_trips(kind, decorrelate):
    init = 0.01 + 0.98 * torch.rand(2, 3, HEIGHT, WIDTH, generator=generator(0, "init"))
    param = kind(HEIGHT, WIDTH, batch=2, decorrelate=decorrelate, generator=generator(0, "param"), init=init)
    assert float((param().detach() - init).abs().max()) < 1e-3


@pytest.mark.parametrize("kind", [PixelParam, FourierParam])
def test_init_noise_sets_colour_of_rgba_param(kind):
    init = 0.01 + 0.98 * noise_image(HEIGHT, WIDTH, generator(0, "noise"))  # [1, 3, H, W], broadcast over batch
    param = kind(HEIGHT, WIDTH, batch=2, channels=4, generator=generator(0, "param"), init=init)
    image = param().detach()
    assert float((image[:, :3] - init).abs().max()) < 1e-3
    assert float((image[:, 3] - 0.5).abs().max()) < 0.1  # alpha keeps its near-grey random start


def test_init_of_wrong_shape_says_what_was_expected():
    with pytest.raises(ReverieError, match=r"expected the init image as \[1 or 2, 3, 31, 45\] floats in \[0, 1\], "
                                           r"got \[2, 3, 45, 31\]"):
        FourierParam(HEIGHT, WIDTH, batch=2, generator=generator(0, "param"), init=torch.rand(2, 3, WIDTH, HEIGHT))
    with pytest.raises(ReverieError, match="got values in"):
        PixelParam(HEIGHT, WIDTH, generator=generator(0, "param"), init=torch.full((1, 3, HEIGHT, WIDTH), 2.0))


# --- CPPN ------------------------------------------------------------------------------------------

def test_cppn_starts_uniform_grey():
    image = CPPNParam(HEIGHT, WIDTH, generator=generator(0, "param"))()
    assert torch.equal(image, torch.full_like(image, 0.5))


def test_cppn_render_is_a_rerender_at_new_size():
    param = visible(CPPNParam(HEIGHT, WIDTH, batch=2, generator=generator(0, "param")))
    image = param().detach()
    large = param.render(2 * HEIGHT, 2 * WIDTH).detach()
    assert large.shape == (2, 3, 2 * HEIGHT, 2 * WIDTH)
    upscaled = torch.nn.functional.interpolate(image, size=large.shape[-2:], mode="bilinear", align_corners=False)
    # The same picture (the frame keeps its range) ...
    assert correlation(large, upscaled) > 0.9
    # ... but computed afresh, not interpolated.
    assert float((large - upscaled).abs().max()) > 1e-3
    assert torch.equal(param.render(HEIGHT, WIDTH), image)


def test_cppn_batch_items_are_independent_networks():
    param = visible(CPPNParam(HEIGHT, WIDTH, batch=2, generator=generator(0, "param")))
    image = param().detach()
    assert correlation(image[0], image[1]) < 0.9
    assert param.weights[0].shape == (2, 24, 3)  # [B, out, in]: x, y, r in
    assert len(param.weights) == 9  # 8 hidden layers + output


# --- noise -----------------------------------------------------------------------------------------

def test_perlin_same_seed_same_noise():
    a = perlin((32, 40), 8.0, generator(5, "noise"), octaves=3)
    assert torch.equal(a, perlin((32, 40), 8.0, generator(5, "noise"), octaves=3))
    assert not torch.allclose(a, perlin((32, 40), 8.0, generator(6, "noise"), octaves=3))


@pytest.mark.parametrize("shape", [(200,), (48, 40), (12, 14, 16)])
def test_perlin_shapes_and_range(shape):
    noise = perlin(shape, 3.0, generator(0, "noise"), octaves=2)
    assert noise.shape == shape
    assert float(noise.abs().max()) <= 1
    assert float(noise.std()) > 0.05


def test_perlin_is_smooth():
    noise = perlin((64, 64), 16.0, generator(0, "noise"))
    white = torch.randn(64, 64, generator=generator(0, "white")) * noise.std()
    step = (noise[1:] - noise[:-1]).abs().mean() + (noise[:, 1:] - noise[:, :-1]).abs().mean()
    white_step = (white[1:] - white[:-1]).abs().mean() + (white[:, 1:] - white[:, :-1]).abs().mean()
    assert float(step) < 0.2 * float(white_step)


def test_more_octaves_add_fine_detail():
    smooth = perlin((64, 64), 16.0, generator(0, "noise"), octaves=1)
    fractal = perlin((64, 64), 16.0, generator(0, "noise"), octaves=5)
    assert radial_power_ratio(fractal[None, None]) < radial_power_ratio(smooth[None, None]) / 3


def test_perlin_is_zero_on_the_lattice():
    points = torch.arange(-5.0, 6.0)
    assert float(perlin1d(points, generator(0, "noise")).abs().max()) == 0
    assert float(perlin2d(points, points.flip(0), generator(0, "noise")).abs().max()) == 0
    assert float(perlin3d(points, points, 2 * points, generator(0, "noise")).abs().max()) == 0
    assert float(perlin1d(points + 0.5, generator(0, "noise")).abs().max()) > 0


def test_perlin_functions_keep_coordinate_shapes():
    x = torch.rand(4, 5, 6, generator=generator(0, "coords")) * 10
    assert perlin1d(x, generator(0, "noise")).shape == (4, 5, 6)
    assert perlin2d(x, x + 1, generator(0, "noise")).shape == (4, 5, 6)
    assert perlin3d(x, x + 1, x * 2, generator(0, "noise")).shape == (4, 5, 6)
    with pytest.raises(ReverieError, match="coordinate tensors of one shape"):
        perlin2d(x, x[0], generator(0, "noise"))


def test_noise_image_is_seeded_colour_in_unit_range():
    image = noise_image(HEIGHT, WIDTH, generator(0, "noise"))
    assert image.shape == (1, 3, HEIGHT, WIDTH)
    assert float(image.min()) == 0 and float(image.max()) == 1
    assert not torch.allclose(image[:, 0], image[:, 1])  # colour, not grey
    assert torch.equal(image, noise_image(HEIGHT, WIDTH, generator(0, "noise")))
    grey = noise_image(HEIGHT, WIDTH, generator(0, "noise"), colour=False)
    assert torch.equal(grey[:, 0], grey[:, 2])


# --- alpha -----------------------------------------------------------------------------------------

def test_composite_with_opaque_alpha_returns_rgb_and_clear_alpha_returns_background():
    rgb = torch.rand(2, 3, 5, 7, generator=generator(0, "rgb"))
    background = torch.rand(2, 3, 5, 7, generator=generator(0, "background"))
    opaque = torch.cat([rgb, torch.ones(2, 1, 5, 7)], dim=1)
    clear = torch.cat([rgb, torch.zeros(2, 1, 5, 7)], dim=1)
    assert torch.equal(composite(opaque, background), rgb)
    assert torch.equal(composite(clear, background), background)
    with pytest.raises(ReverieError, match=r"expected an RGBA image as floats \[B, 4, H, W\]"):
        composite(rgb, background)


def test_random_background_is_seeded_smooth_colour():
    background = random_background(2, HEIGHT, WIDTH, generator(0, "background"))
    assert background.shape == (2, 3, HEIGHT, WIDTH) and not background.requires_grad
    assert float(background.min()) >= 0 and float(background.max()) <= 1
    assert float(background.std()) > 0.05  # visible structure, not near-grey
    assert torch.equal(background, random_background(2, HEIGHT, WIDTH, generator(0, "background")))
    assert not torch.allclose(background, random_background(2, HEIGHT, WIDTH, generator(1, "background")))
    assert radial_power_ratio(background) > 20


# --- shared parameters ----------------------------------------------------------------------------

def test_aligned_batch_items_share_structure():
    aligned, independent = [], []
    for seed in range(4):
        image = aligned_fourier(HEIGHT, WIDTH, batch=2, generator=generator(seed, "param"))()
        aligned.append(correlation(image[0], image[1]))
        image = FourierParam(HEIGHT, WIDTH, batch=2, generator=generator(seed, "param"))()
        independent.append(abs(correlation(image[0], image[1])))
    assert sum(aligned) / 4 > sum(independent) / 4 + 0.2


def test_aligned_gradients_reach_shared_and_own_tensors():
    param = aligned_fourier(HEIGHT, WIDTH, batch=3, generator=generator(0, "param"), shared_scales=(2, 4))
    assert isinstance(param, SharedParam)
    assert [tuple(t.shape) for t in param.shared] == [(1, 3, 16, 23), (1, 3, 8, 12)]
    param()[1].mean().backward()  # one batch item's score
    assert float(param.base.spectrum.grad[1].abs().max()) > 0
    assert float(param.base.spectrum.grad[0].abs().max()) == 0  # other items' own tensors are untouched
    assert all(float(t.grad.abs().max()) > 0 for t in param.shared)


# --- names -----------------------------------------------------------------------------------------

def test_unknown_param_error_names_nearest():
    with pytest.raises(ReverieError, match=r"unknown parameterization 'pixels' \(nearest: pixel\)"):
        make_param("pixels", 8, 8, 1, 3, generator(0, "param"))


def test_unknown_option_error_names_nearest():
    with pytest.raises(ReverieError, match=r"unknown option for 'fft' 'decay' \(nearest: decay_power"):
        make_param("fft", 8, 8, 1, 3, generator(0, "param"), decay=1.0)


def test_make_param_passes_options():
    param = make_param("fft", 8, 10, batch=1, channels=4, generator=generator(0, "param"), decay_power=0.75,
                       decorrelate=False)
    assert isinstance(param, FourierParam) and param.decay_power == 0.75 and not param.decorrelate
    assert param().shape == (1, 4, 8, 10)


def test_a_cppn_network_travels_as_text_and_bad_text_is_refused():
    import json

    from reverie.errors import ReverieError
    from reverie.params.cppn import CPPNParam

    param = CPPNParam(12, 16, batch=2, normalize=True, generator=generator(0, "param"))
    with torch.no_grad():
        for weight in param.weights:
            weight.normal_(generator=generator(1, "weights"))
    text = param.to_text()
    again = CPPNParam.from_text(text)
    assert torch.equal(again.render(), param.render().detach())
    assert torch.allclose(again.picture(24, 32), param.render(24, 32).detach(), atol=1e-6)
    data = json.loads(text)
    for change, message in (({"values": data["values"][:-8]}, "float32 values"),
                            ({"values": "!" * len(data["values"])}, "not base64"),
                            ({"normalize": "yes"}, "normalize must be true or false"),
                            ({"width_channels": 10 ** 6}, "width_channels must be a whole number")):
        with pytest.raises(ReverieError, match=message):
            CPPNParam.from_text(json.dumps({**data, **change}))
    with pytest.raises(ReverieError, match="not JSON"):
        CPPNParam.from_text("{")
