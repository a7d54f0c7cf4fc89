"""Loading models by name, module:callable, .pt2 export or state dict, and listing their layers."""
from __future__ import annotations

import json
import importlib
import re
import sys
import textwrap

import pytest
import torch
from torch import nn

import reverie
from reverie import ModelSpec, ReverieError, dreamable_layers, load_model, with_input_normalization

USER_MODULE = "reverie_test_user_models"
USER_MODELS = textwrap.dedent('''
    import torch
    from torch import nn

    def build():
        return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU())

    class Zoo:
        @staticmethod
        def small():
            return build()

    ready = build()
    not_a_model = 42
''')


@pytest.fixture
def user_models(tmp_path, monkeypatch):
    """A user's module of model factories, importable as ``reverie_test_user_models``."""
    (tmp_path / f"{USER_MODULE}.py").write_text(USER_MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, USER_MODULE, raising=False)
    yield USER_MODULE
    sys.modules.pop(USER_MODULE, None)


def assert_ready(model: nn.Module) -> None:
    assert not model.training
    assert not any(parameter.requires_grad for parameter in model.parameters())


@pytest.mark.parametrize("attribute", ["build", "Zoo.small", "ready"])
def test_a_module_callable_spec_builds_the_users_model(user_models, attribute):
    model = load_model(f"{user_models}:{attribute}")
    assert isinstance(model, nn.Sequential) and len(model) == 4
    assert_ready(model)
    assert model(torch.rand(1, 3, 8, 8)).shape == (1, 6, 8, 8)


@pytest.mark.parametrize("spec, message", [
    ("reverie_no_such_module:build", "cannot import module 'reverie_no_such_module'"),
    (f"{USER_MODULE}:missing", f"module '{USER_MODULE}' has no attribute 'missing'"),
    (f"{USER_MODULE}:not_a_model", "gave a int, not a torch.nn.Module"),
])
def test_a_bad_module_callable_spec_says_what_is_wrong(user_models, spec, message):
    with pytest.raises(ReverieError, match=message):
        load_model(spec)


def test_a_state_dict_file_is_loaded_with_weights(user_models, tmp_path):
    trained = load_model(f"{user_models}:build")  # random init, standing in for trained weights
    path = tmp_path / "trained.pt"
    torch.save(trained.state_dict(), path)
    fresh = load_model(f"{user_models}:build")
    assert not torch.equal(fresh[0].weight, trained[0].weight)
    model = load_model(ModelSpec(f"{user_models}:build", weights=str(path)))
    assert_ready(model)
    for name, tensor in trained.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor)
    wrapped = tmp_path / "checkpoint.pt"  # the common {"state_dict": ...} checkpoint layout
    torch.save({"state_dict": trained.state_dict(), "epoch": 3}, wrapped)
    assert torch.equal(load_model(ModelSpec(f"{user_models}:build", weights=str(wrapped)))[2].weight,
                       trained[2].weight)


class Payload:
    """Any pickled object: a weights file must never be able to make the loader run code."""


def test_weights_files_that_are_not_a_fitting_state_dict_are_refused(user_models, tmp_path):
    spec = f"{user_models}:build"
    with pytest.raises(ReverieError, match="weights file not found"):
        load_model(ModelSpec(spec, weights=str(tmp_path / "missing.pt")))
    wrong = tmp_path / "wrong.pt"
    torch.save({"0.weight": torch.zeros(4, 3, 3, 3)}, wrong)
    with pytest.raises(ReverieError, match=r"does not fit the model \(missing 0\.bias"):
        load_model(ModelSpec(spec, weights=str(wrong)))
    pickled = tmp_path / "pickled.pt"
    torch.save({"state_dict": Payload()}, pickled)
    with pytest.raises(ReverieError, match="cannot read weights file"):
        load_model(ModelSpec(spec, weights=str(pickled)))
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a torch file")
    with pytest.raises(ReverieError, match="cannot read weights file"):
        load_model(ModelSpec(spec, weights=str(garbage)))


_EXPORTED: dict[str, object] = {}


@pytest.fixture
def export_tiny(tiny_cnn, tmp_path_factory):
    """export_tiny(dynamic) -> a .pt2 file of the (seeded, so always identical) tiny_cnn.

    Exporting takes seconds, so each kind is exported once per module.
    """
    def export(dynamic: bool):
        key = "dynamic" if dynamic else "static"
        if key not in _EXPORTED:
            dims = torch.export.Dim.DYNAMIC
            example = torch.rand(2, 3, 32, 32) if dynamic else torch.rand(1, 3, 32, 32)
            shapes = ({0: dims, 2: dims, 3: dims},) if dynamic else None
            program = torch.export.export(tiny_cnn, (example,), dynamic_shapes=shapes)
            path = tmp_path_factory.mktemp("exported") / f"tiny-{key}.pt2"
            torch.export.save(program, str(path))
            _EXPORTED[key] = path
        return _EXPORTED[key]
    return export


def test_a_pt2_export_loads_with_the_original_layer_names_and_dreams(tiny_cnn, export_tiny, photo64,
                                                                      assert_objective_rises):
    model = load_model(str(export_tiny(dynamic=True)))
    assert_ready(model)
    for shape in [(1, 3, 32, 32), (1, 3, 40, 56), (3, 3, 24, 16)]:  # any batch, height and width
        image = torch.rand(shape)
        with torch.no_grad():
            assert torch.allclose(model(image), tiny_cnn(image), atol=1e-5)
    # torch.export.unflatten rebuilds the submodules, so hooks fire and layers keep their names.
    assert dreamable_layers(model, 32) == dreamable_layers(tiny_cnn, 32)
    assert dreamable_layers(model, 40, everything=True) == dreamable_layers(tiny_cnn, 40, everything=True)
    assert sum(len(module._forward_hooks) for module in model.modules()) == 0
    quick = reverie.DreamSettings(octaves=2, steps=6, step_size=0.02, jitter=4, min_octave_size=32)
    objective = reverie.layer("features.relu3")
    dreamed = reverie.dream(photo64, model=model, objective=objective, settings=quick, device="cpu")
    assert_objective_rises(tiny_cnn, objective, photo64, dreamed.image, factor=1.5)
    eager = reverie.dream(photo64, model=tiny_cnn, objective=objective, settings=quick, device="cpu")
    assert torch.allclose(dreamed.image, eager.image, atol=1e-4)  # the same dream as the Python model


def test_a_pt2_exported_for_one_size_says_so_at_another(export_tiny, photo64):
    path = export_tiny(dynamic=False)  # torch.export's default: every dimension fixed
    model = load_model(str(path))
    assert model(torch.rand(1, 3, 32, 32)).shape == (1, 10)
    message = (f"{path} was exported for 32x32 inputs only, got 64x64; export it with dynamic height and "
               "width: torch.export.export(model, (torch.rand(2, 3, 224, 224),), dynamic_shapes=")
    with pytest.raises(ReverieError, match=re.escape(message)) as caught:
        reverie.dream(photo64, model=model, objective="layer(features.relu3)", device="cpu")
    assert "\n" not in str(caught.value)
    with pytest.raises(ReverieError, match=r"^\S+ was exported for 32x32 inputs only, got 224x224;"):
        dreamable_layers(model)
    with pytest.raises(ReverieError, match="was exported for batches of 1 only, got 2; export with a dynamic batch"):
        model(torch.rand(2, 3, 32, 32))


def _never_called(*args, **kwargs):
    raise AssertionError("a TorchScript file must be recognised without deserializing it")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated, still supported
@pytest.mark.parametrize("compile_", ["script", "trace"])
@pytest.mark.parametrize("name", ["tiny.pt", "tiny.pt2"])
def test_a_torchscript_file_is_refused_with_what_to_do(tiny_cnn, tmp_path, monkeypatch, compile_, name):
    example = torch.rand(1, 3, 32, 32)
    compiled = torch.jit.script(tiny_cnn) if compile_ == "script" else torch.jit.trace(tiny_cnn, example)
    path = tmp_path / name
    compiled.save(str(path))
    monkeypatch.setattr(torch.jit, "load", _never_called)
    monkeypatch.setattr(torch.export, "load", _never_called)
    with pytest.raises(ReverieError) as caught:
        load_model(str(path))
    assert str(caught.value) == (
        f"{path} is a TorchScript file: TorchScript runs compiled code Reverie cannot hook; save with "
        "torch.export.save (.pt2) (dynamic height/width) or use --model module:callable --weights FILE"
    )


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_torchscript_module_object_is_refused_for_dreaming(tiny_cnn):
    # PyTorch runs no hooks inside TorchScript, so its layers cannot be recorded: say so plainly.
    scripted = torch.jit.script(tiny_cnn)
    with pytest.raises(ReverieError, match="TorchScript.*torch.export.save"):
        reverie.dream(torch.rand(1, 3, 32, 32), model=scripted, objective="layer(features.relu3)", device="cpu")
    with pytest.raises(ReverieError, match="TorchScript"):
        dreamable_layers(scripted, 32)


@pytest.mark.parametrize("content", ["state dict", "whole model", "text"])
def test_a_file_that_is_not_a_pt2_program_points_to_weights(tiny_cnn, tmp_path, content):
    path = tmp_path / "model.pt"
    if content == "state dict":
        torch.save(tiny_cnn.state_dict(), path)
    elif content == "whole model":
        torch.save({"w": torch.zeros(1)}, path)
    else:
        path.write_text("not a model")
    with pytest.raises(ReverieError, match=r"is not a \.pt2 program saved by torch\.export\.save; "
                                           r"for a state-dict file use .*--weights"):
        load_model(str(path))


def test_only_registered_models_are_built_without_running_outside_code(tmp_path):
    # torch.export.load unpickles parts of a .pt2 with full pickle: a file is code, like module:callable.
    assert not ModelSpec("efficientnet-lite0").runs_code()
    assert ModelSpec("package.module:build").runs_code()
    path = tmp_path / "model.pt2"
    path.write_bytes(b"")
    assert ModelSpec(str(path)).runs_code()
    assert ModelSpec("missing.pt2").runs_code()


def test_an_unknown_model_name_lists_the_nearest_names():
    with pytest.raises(ReverieError, match=r"unknown model 'efficientnet-lite9' \(nearest: .*efficientnet-lite0"):
        load_model("efficientnet-lite9")
    with pytest.raises(ReverieError, match=r"unknown model 'resnet50' \(valid: efficientnet-lite0.*module:callable"):
        load_model("resnet50")
    with pytest.raises(ReverieError, match="model file not found: missing.pt"):
        load_model("missing.pt")
    with pytest.raises(ReverieError, match="model file not found: missing.pt2"):
        load_model("missing.pt2")


def test_an_unknown_normalization_is_refused():
    with pytest.raises(ReverieError, match=r"unknown normalize 'imagenett' \(nearest: imagenet"):
        load_model(ModelSpec("efficientnet-lite0", normalize="imagenett"))


def test_dreamable_layers_lists_image_shaped_layers_with_channels_and_sizes(tiny_cnn):
    found = {info.name: (info.kind, info.channels, info.height, info.width) for info in dreamable_layers(tiny_cnn, 32)}
    assert found == {
        "features.conv1": ("Conv2d", 8, 32, 32), "features.relu1": ("ReLU", 8, 32, 32),
        "features.conv2": ("Conv2d", 16, 32, 32), "features.relu2": ("ReLU", 16, 32, 32),
        "features.pool": ("MaxPool2d", 16, 16, 16),
        "features.conv3": ("Conv2d", 24, 16, 16), "features.relu3": ("ReLU", 24, 16, 16),
        "features": ("Sequential", 24, 16, 16), "head.gap": ("AdaptiveAvgPool2d", 24, 1, 1),
    }
    assert [info.name for info in dreamable_layers(tiny_cnn, 32)][:3] == ["features.conv1", "features.relu1", "features.conv2"]
    assert sum(len(module._forward_hooks) for module in tiny_cnn.modules()) == 0


def test_dreamable_layers_of_the_embedded_model(lite0):
    found = {info.name: info for info in dreamable_layers(lite0, 224)}
    assert {f"blocks.{i}" for i in range(16)} <= set(found)
    assert (found["blocks.6"].channels, found["blocks.6"].height) == (80, 14)
    assert (found["blocks.15"].channels, found["blocks.15"].height) == (320, 7)
    assert "blocks.6.project.bn" not in found  # three levels deep: only with everything=True
    assert "blocks.6.project.conv" in {info.name for info in dreamable_layers(lite0, 64, everything=True)}


def test_dream_accepts_a_users_module_object(tiny_cnn, photo64, assert_objective_rises):
    quick = reverie.DreamSettings(octaves=2, steps=6, step_size=0.02, jitter=4, min_octave_size=32)
    result = reverie.dream(photo64, model=tiny_cnn, objective=reverie.layer("features.relu3"),
                           settings=quick, device="cpu")
    assert result.image.shape == photo64.shape
    assert result.recipe.model.name == "live:TinyCNN"
    assert result.recipe.objective == "layer(features.relu3)"
    assert_objective_rises(tiny_cnn, reverie.layer("features.relu3"), photo64, result.image, factor=1.5)


def test_dream_on_a_users_model_without_an_objective_picks_a_layer(tiny_cnn, photo64):
    quick = reverie.DreamSettings(octaves=1, steps=2, jitter=4, min_octave_size=32)
    result = reverie.dream(photo64, model=tiny_cnn, settings=quick, device="cpu")
    assert result.recipe.objective.startswith("layer(features.")


def test_dream_checks_channels_against_the_users_model(tiny_cnn, photo64):
    with pytest.raises(ReverieError, match=r"channel 24 is out of range for layer features.relu3 \(valid: 0-23\)"):
        reverie.dream(photo64, model=tiny_cnn, objective="channel(features.relu3, 24)", device="cpu")


def test_input_normalization_keeps_layer_names_and_normalizes(tiny_cnn, photo32):
    names = [name for name, _ in tiny_cnn.named_modules()]
    with torch.no_grad():
        expected = tiny_cnn((photo32 - 0.5) / 0.25)
    model = with_input_normalization(tiny_cnn, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    assert [name for name, _ in model.named_modules()] == names
    with torch.no_grad():
        assert torch.allclose(model(photo32), expected, atol=1e-6)


def test_a_normalization_named_in_the_spec_is_applied(user_models):
    plain = load_model(f"{user_models}:build")
    normalized = load_model(ModelSpec(f"{user_models}:build", normalize="inception"))
    normalized.load_state_dict(plain.state_dict())
    image = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(normalized(image), plain(image * 2 - 1), atol=1e-6)


def test_input_normalization_applied_twice_replaces_the_first(tiny_cnn, photo32):
    with torch.no_grad():
        expected = tiny_cnn((photo32 - 0.25) / 0.5)
    with_input_normalization(tiny_cnn, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    model = with_input_normalization(tiny_cnn, (0.25, 0.25, 0.25), (0.5, 0.5, 0.5))
    assert len(model._forward_pre_hooks) == 1
    with torch.no_grad():
        assert torch.allclose(model(photo32), expected, atol=1e-6)


def test_a_ready_instance_loaded_twice_is_normalized_once(user_models):
    spec = ModelSpec(f"{user_models}:ready", normalize="inception")
    first, second = load_model(spec), load_model(spec)
    assert first is second  # ``ready`` names one module object
    image = torch.rand(1, 3, 8, 8)

    def unhooked(x):  # the Sequential's children carry no hooks
        for child in second:
            x = child(x)
        return x

    with torch.no_grad():
        assert torch.allclose(second(image), unhooked(image * 2 - 1), atol=1e-6)
        # Loaded again without a normalization, the earlier one is gone too.
        plain = load_model(f"{user_models}:ready")
        assert torch.allclose(plain(image), unhooked(image), atol=1e-6)
    assert len(plain._forward_pre_hooks) == 0


# --- precision and compile ---------------------------------------------------------------------------

def test_bf16_runs_the_model_under_autocast_and_objectives_score_in_fp32(user_models):
    from reverie.recorder import ActivationRecorder
    image = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    from reverie.models.loading import set_precision
    model = load_model(ModelSpec(f"{user_models}:build", precision="bf16"))
    assert model.reverie_precision == "bf16"
    raw = []
    model[2].register_forward_hook(lambda module, inputs, output: raw.append(output.dtype))
    results = {}
    for precision in ("fp32", "bf16"):
        set_precision(model, precision)
        with ActivationRecorder(model, ["3"]) as recorder:
            results[precision] = recorder(image)["3"]
    assert raw == [torch.float32, torch.bfloat16]
    assert results["bf16"].dtype == torch.float32  # what an objective reads
    torch.testing.assert_close(results["bf16"], results["fp32"], rtol=0.05, atol=0.02)


def test_precision_is_stored_and_a_recipe_from_before_it_runs_fp32():
    from reverie import VisualizeRecipe
    assert VisualizeRecipe.from_json('{"model": {"name": "efficientnet-lite0"}}').model.precision == "fp32"
    stored = json.loads(VisualizeRecipe(model=ModelSpec(precision="bf16")).to_json())["model"]
    assert stored["precision"] == "bf16" and "compile" not in stored  # compile is how it runs, not what it gives
    with pytest.raises(ReverieError, match="unknown precision 'fp64'"):
        ModelSpec(precision="fp64")


def test_compile_gives_the_same_activations_and_gradients_within_tolerance(user_models):
    from reverie.recorder import ActivationRecorder
    compiled = load_model(ModelSpec(f"{user_models}:build", compile=True))
    eager = load_model(ModelSpec(f"{user_models}:build"))
    eager.load_state_dict(compiled.state_dict())  # the same weights, names unchanged by compiling
    image = torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    outputs = []
    for model in (eager, compiled):
        start = image.clone().requires_grad_(True)
        try:
            with ActivationRecorder(model, ["1"]) as recorder:  # stops the forward inside the compiled one
                activation = recorder(start)["1"]
                (gradient,) = torch.autograd.grad(activation[:, 1].mean(), start)
        except Exception as error:  # noqa: BLE001 - inductor needs a C++ compiler this machine may lack
            if model is eager or "Compiler" not in type(error).__name__:
                raise
            pytest.skip(f"torch.compile cannot run on this machine: {type(error).__name__}")
        outputs.append((activation.detach(), gradient))
    torch.testing.assert_close(outputs[1][0], outputs[0][0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(outputs[1][1], outputs[0][1], rtol=1e-4, atol=1e-6)


# --- batch norm folded into user models ---------------------------------------------------------------

FOLDABLE = textwrap.dedent('''
    import torch
    from torch import nn

    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(6, 6, 3, padding=1)
            self.bn = nn.BatchNorm2d(6)
        def forward(self, x):
            y = self.conv(x)
            return x + self.bn(y) + 0.1 * y  # the conv's output is used twice: not foldable

    def build():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(),
                              nn.Conv2d(6, 6, 3, stride=2), nn.BatchNorm2d(6), nn.ReLU6(), Residual())
        for module in model.modules():  # statistics a trained network would have
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5); module.running_var.uniform_(0.5, 2.0)
                module.weight.data.uniform_(0.5, 1.5); module.bias.data.uniform_(-0.3, 0.3)
        return model

    class Untraceable(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = build()
        def forward(self, x):
            if x.mean() > 2:  # data-dependent control flow: fx cannot trace it
                return x
            return self.body(x)
''')


@pytest.fixture
def foldable_models(tmp_path, monkeypatch):
    (tmp_path / "reverie_test_foldable.py").write_text(FOLDABLE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "reverie_test_foldable", raising=False)
    yield "reverie_test_foldable"
    sys.modules.pop("reverie_test_foldable", None)


@pytest.mark.parametrize("factory, prefix", [("build", ""), ("Untraceable", "body.")])
def test_batch_norm_is_folded_where_unambiguous_and_every_named_layer_keeps_its_activations(
        foldable_models, factory, prefix):
    from reverie.models.folding import FoldingConv2d, conv_bn_pairs
    from reverie.recorder import ActivationRecorder
    module = importlib.import_module(foldable_models)
    plain = getattr(module, factory)().eval().requires_grad_(False)
    folded = load_model(f"{foldable_models}:{factory}")
    assert conv_bn_pairs(folded) == [(f"{prefix}0", f"{prefix}1"), (f"{prefix}3", f"{prefix}4")]
    assert not isinstance(dict(folded.named_modules())[f"{prefix}6.conv"], FoldingConv2d)  # used twice
    assert [name for name, _ in folded.named_modules()] == [name for name, _ in plain.named_modules()]
    assert folded.state_dict().keys() == plain.state_dict().keys()
    image = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    normalisations = []
    batch_norm = torch.nn.functional.batch_norm
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.nn.functional, "batch_norm", lambda *a, **k: normalisations.append(1) or batch_norm(*a, **k))
        torch.testing.assert_close(folded(image), plain(image), rtol=1e-4, atol=1e-5)  # folded, no hooks
    assert len(normalisations) == 1 + 3  # folded: the residual's alone; plain: all three
    for name, _ in plain.named_modules():
        if not name:
            continue
        with ActivationRecorder(plain, [name]) as expected, ActivationRecorder(folded, [name]) as recorded:
            torch.testing.assert_close(recorded(image)[name], expected(image)[name], rtol=1e-4, atol=1e-5)


def test_channels_last_is_stored_and_gives_the_same_activations_within_tolerance(user_models, lite0):
    from reverie import VisualizeRecipe
    from reverie.recorder import ActivationRecorder
    # Recipes from before auto ran contiguous; new ones store auto: channels-last for the embedded models
    # (measured faster on a CPU), contiguous for a user's (whose forward may .view() an activation).
    assert VisualizeRecipe.from_json('{"model": {"name": "efficientnet-lite0"}}').model.memory_format == "contiguous"
    assert json.loads(VisualizeRecipe().to_json())["model"]["memory_format"] == "auto"
    convolutions = [m.weight for m in lite0.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(weight.is_contiguous(memory_format=torch.channels_last) for weight in convolutions)
    assert load_model(ModelSpec(f"{user_models}:build"))[0].weight.is_contiguous()
    old = load_model(VisualizeRecipe.from_json('{"model": {"name": "efficientnet-lite0"}}').model)
    assert not next(m for m in old.modules() if isinstance(m, torch.nn.Conv2d)).weight.is_contiguous(
        memory_format=torch.channels_last)
    stored = json.loads(VisualizeRecipe(model=ModelSpec(memory_format="channels_last")).to_json())["model"]
    assert stored["memory_format"] == "channels_last"
    nhwc = load_model(ModelSpec(f"{user_models}:build", memory_format="channels_last"))
    nchw = load_model(ModelSpec(f"{user_models}:build"))
    nchw.load_state_dict(nhwc.state_dict())
    assert nhwc[0].weight.is_contiguous(memory_format=torch.channels_last)
    image = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with ActivationRecorder(nhwc, ["3"]) as last, ActivationRecorder(nchw, ["3"]) as first:
        torch.testing.assert_close(last(image)["3"], first(image)["3"], rtol=1e-4, atol=1e-5)
