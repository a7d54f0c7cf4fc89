"""Uploads are bounded, decoded before they are kept, and only ever looked up inside the studio's folder."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from reverie.errors import ReverieError
from reverie.studio import folder as folder_module
from reverie.studio.folder import StudioFolder


def test_an_upload_is_kept_byte_for_byte_under_a_plain_hashed_name(tmp_path):
    upload = tmp_path / "My Photo (1).png"
    Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).save(upload)
    studio = StudioFolder(tmp_path / "studio")
    name = studio.keep_image(upload)
    digest = hashlib.sha256(upload.read_bytes()).hexdigest()
    assert name == f"My-Photo-1-{digest[:12]}.png"
    assert (studio.inputs / name).read_bytes() == upload.read_bytes()
    assert studio.keep_image(upload) == name  # the same file twice is kept once


def test_a_file_that_is_not_an_image_is_refused_with_one_line(tmp_path):
    fake = tmp_path / "photo.png"
    fake.write_bytes(b"not a png at all")
    with pytest.raises(ReverieError, match="cannot read image .*photo.png"):
        StudioFolder(tmp_path / "studio").keep_image(fake)
    assert not list((tmp_path / "studio" / "inputs").iterdir())


def test_too_many_pixels_are_refused_before_anything_is_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(folder_module, "MAX_IMAGE_PIXELS", 100)
    upload = tmp_path / "big.png"
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(upload)
    with pytest.raises(ReverieError, match=r"20x20 .* at most"):
        StudioFolder(tmp_path / "studio").keep_image(upload)


def test_too_many_bytes_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(folder_module, "MAX_VIDEO_BYTES", 10)
    upload = tmp_path / "clip.mp4"
    upload.write_bytes(b"x" * 11)
    with pytest.raises(ReverieError, match="at most"):
        StudioFolder(tmp_path / "studio").keep_video(upload)


@pytest.mark.parametrize("name", ["../secret.png", "/etc/passwd", "sub/photo.png", "..", ""])
def test_names_from_a_recipe_never_leave_the_inputs_folder(tmp_path, name):
    (tmp_path / "secret.png").write_bytes(b"private")
    with pytest.raises(ReverieError, match="is not a file the studio keeps"):
        StudioFolder(tmp_path / "studio").input_path(name, "source")


def test_a_missing_input_says_to_upload_it(tmp_path):
    with pytest.raises(ReverieError, match="upload that file"):
        StudioFolder(tmp_path / "studio").input_path("photo-0123456789ab.png", "source")


def test_a_painted_mask_is_stored_white_where_painted(tmp_path):
    painted = np.zeros((8, 10, 4), np.uint8)
    painted[2:5, 3:7] = (255, 255, 255, 255)
    studio = StudioFolder(tmp_path / "studio")
    name = studio.keep_mask(painted)
    mask = np.asarray(Image.open(studio.inputs / name))
    assert mask.shape == (8, 10) and mask[3, 4] == 255 and mask[0, 0] == 0 and (mask > 0).sum() == 12
    assert studio.keep_mask(np.zeros((8, 10, 4), np.uint8)) is None
