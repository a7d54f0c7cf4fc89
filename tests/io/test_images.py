"""Reading any common image faithfully, and writing outputs atomically."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import reverie
from reverie import ReverieError, read_image, save_image


def test_an_8_bit_photo_reads_back_exactly(tmp_path, photo32):
    path = tmp_path / "photo.png"
    reverie.to_pil(photo32).save(path)
    image = read_image(path)
    assert image.shape == (1, 3, 32, 32) and image.dtype == torch.float32
    assert torch.allclose(image, photo32, atol=0.5 / 255 + 1e-6)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "LA", "CMYK"])
def test_any_common_mode_reads_as_rgb_in_range(tmp_path, photo32, mode):
    path = tmp_path / ("picture.tif" if mode == "CMYK" else "picture.png")
    reverie.to_pil(photo32).convert(mode).save(path)
    image = read_image(path)
    assert image.shape == (1, 3, 32, 32)
    assert 0 <= image.min() and image.max() <= 1
    assert abs(float(image.mean()) - float(photo32.mean())) < 0.05


def test_a_16_bit_greyscale_png_keeps_its_tones(tmp_path):
    ramp = np.linspace(0, 65535, 48 * 32).reshape(32, 48).astype(np.uint16)
    path = tmp_path / "ramp16.png"
    Image.fromarray(ramp).save(path)
    image = read_image(path)
    assert image.shape == (1, 3, 32, 48)
    assert float(image.min()) == 0.0 and float(image.max()) == 1.0
    assert float(image.mean()) == pytest.approx(0.5, abs=0.01)  # not washed out to white
    assert torch.equal(image[:, 0], image[:, 2])


def test_a_folder_is_not_an_image(tmp_path):
    with pytest.raises(ReverieError, match="input image is a folder"):
        read_image(tmp_path)


def test_a_failed_save_leaves_the_previous_file_and_no_temporary(tmp_path, photo32, monkeypatch):
    target = tmp_path / "dream.png"
    save_image(target, photo32)
    before = target.read_bytes()

    def broken_save(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_image(target, torch.zeros_like(photo32))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["dream.png"]


def test_saving_to_a_folder_path_is_refused(tmp_path, photo32):
    (tmp_path / "out.png").mkdir()
    with pytest.raises(ReverieError, match="output path is a folder"):
        save_image(tmp_path / "out.png", photo32)


@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut", "rocket"])
def test_a_sample_read_without_scikit_image_has_its_pixels(name):
    # The samples are opened from scikit-image's folder with PIL (its reader is slow to import).
    from skimage import data

    from reverie.imaging import from_pil, sample
    assert torch.equal(sample(name), from_pil(Image.fromarray(getattr(data, name)())))
