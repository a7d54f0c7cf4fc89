"""A user model's failures are one line, its dict and tuple outputs work, and a local module needs no PYTHONPATH."""
from __future__ import annotations

import sys
import textwrap
import warnings

import pytest
import torch
from torch import nn

import reverie
from reverie import ReverieError
from reverie.errors import ReverieNote
from reverie.engine.deepdream import DreamSettings
from reverie.engine.optimize import RenderSettings
from reverie.objectives import parse_objective

FAILING = "reverie_test_failing_models"
FAILING_SOURCE = textwrap.dedent('''
    def needs_timm():
        import reverie_test_not_installed_dependency  # a dependency the user forgot to install
        return None

    def raises_deep():
        raise RuntimeError("weights for block 7 are corrupt\\n  more detail\\n  and more")
''')


@pytest.fixture
def failing_models(tmp_path, monkeypatch):
    (tmp_path / f"{FAILING}.py").write_text(FAILING_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, FAILING, raising=False)
    yield FAILING
    sys.modules.pop(FAILING, None)


def one_line(error: pytest.ExceptionInfo) -> str:
    text = str(error.value)
    assert "\n" not in text and "Traceback" not in text and len(text) < 400, text
    return text


def test_an_import_error_inside_a_factory_is_one_line_saying_what_to_install(failing_models):
    with pytest.raises(ReverieError) as error:
        reverie.load_model(f"{failing_models}:needs_timm")
    assert "ModuleNotFoundError" in one_line(error) and "pip install reverie_test_not_installed_dependency" in str(error.value)


def test_a_factory_failure_is_its_first_line(failing_models):
    with pytest.raises(ReverieError) as error:
        reverie.load_model(f"{failing_models}:raises_deep")
    assert one_line(error).endswith("RuntimeError: weights for block 7 are corrupt")


def test_a_module_that_fails_to_import_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "reverie_test_broken_module.py").write_text("import reverie_test_missing_dep\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ReverieError) as error:
        reverie.load_model("reverie_test_broken_module:build")
    assert "needs 'reverie_test_missing_dep'" in one_line(error)
    (tmp_path / "reverie_test_syntax_module.py").write_text("def build(:\n")
    with pytest.raises(ReverieError) as error:
        reverie.load_model("reverie_test_syntax_module:build")
    assert "SyntaxError" in one_line(error)


def test_a_module_in_the_current_folder_is_found_without_pythonpath(tmp_path, monkeypatch, reverie_cli):
    (tmp_path / "reverie_test_local_net.py").write_text(textwrap.dedent('''
        from torch import nn
        def build():
            return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
    '''))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "reverie_test_local_net", raising=False)
    code, out, err = reverie_cli("layers", "--model", "reverie_test_local_net:build", "--size", "16", "--json")
    assert code == 0, err
    assert '"0"' in out
    assert str(tmp_path) not in sys.path  # searched for this import only


class RaisesAtRun(nn.Module):
    """Runs at the probe's size, fails on any other: a failure in the middle of the work."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        if x.shape[-1] > 64:
            raise ValueError("this network only takes 64 px\nTraceback-looking detail")
        return self.conv(x)


def test_a_model_failing_in_the_loop_is_one_line(photo64):
    image = torch.nn.functional.interpolate(photo64, size=(96, 96))
    with pytest.raises(ReverieError) as error:
        reverie.dream(image, model=RaisesAtRun().eval(), objective="layer(conv)",
                      settings=DreamSettings(octaves=1, steps=1, jitter=0), device="cpu")
    assert "ValueError: this network only takes 64 px" in one_line(error)


class DictOutput(nn.Module):
    """A Hugging Face style model: returns a dict with the class logits among other things."""

    def __init__(self, keys=("logits", "hidden")):
        super().__init__()
        self.keys = keys
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(8, 10)

    def forward(self, x):
        hidden = self.features(x)
        return {self.keys[0]: self.head(hidden.mean(dim=(2, 3))), self.keys[1]: hidden}


def test_logit_reads_the_logits_of_a_dict_output(photo32, assert_objective_rises):
    model = DictOutput().eval()
    settings = DreamSettings(octaves=1, steps=8, jitter=0, min_octave_size=16)
    result = reverie.dream(photo32, model=model, objective="logit(3)", settings=settings, device="cpu")
    assert_objective_rises(model, parse_objective("logit(3)"), photo32, result.image, factor=1.0)
    render = reverie.visualize("logit(3) + probability(3)", model=model, size=(32, 32),
                               settings=RenderSettings(steps=2), device="cpu")
    assert render.image.shape[-1] == 32


def test_a_dict_output_without_logits_names_its_keys(photo32):
    with pytest.raises(ReverieError) as error:
        reverie.dream(photo32, model=DictOutput(("scores_a", "scores_b")).eval(), objective="logit(3)",
                      settings=DreamSettings(octaves=1, steps=1), device="cpu")
    assert "keys scores_a, scores_b" in one_line(error)


def test_a_tuple_output_uses_its_first_item(photo32):
    class TupleOutput(DictOutput):
        def forward(self, x):
            output = super().forward(x)
            return output["logits"], output["hidden"]
    result = reverie.dream(photo32, model=TupleOutput().eval(), objective="logit(1)",
                           settings=DreamSettings(octaves=1, steps=1, min_octave_size=16), device="cpu")
    assert result.recipe.objective == "logit(1)"


# --- checks that teach ------------------------------------------------------------------------------

class Detaching(nn.Module):
    """Rounds its features to integers through .detach(): nothing after it can be dreamed."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.quantized = nn.Identity()
        self.after = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        return self.after(self.quantized(self.conv(x).detach().round()))


def test_a_layer_the_gradient_cannot_reach_is_one_line_saying_what_to_do(photo32):
    with pytest.raises(ReverieError) as error:
        reverie.dream(photo32, model=Detaching().eval(), objective="layer(after)",
                      settings=DreamSettings(octaves=1, steps=1), device="cpu")
    assert "layer after does not depend differentiably on the image" in one_line(error)
    assert "choose an earlier layer" in str(error.value)


class Constant(nn.Module):
    """An 'untrained' model whose weights were never loaded: zeros, so every image gives the same output."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.constant_(self.conv.bias, 0.5)

    def forward(self, x):
        return self.conv(x)


def notes_of(run) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run()
    return [str(item.message) for item in caught if issubclass(item.category, ReverieNote)]


def test_a_model_whose_output_barely_changes_gets_a_note(photo32):
    notes = notes_of(lambda: reverie.dream(photo32, model=Constant().eval(), objective="layer(conv)",
                                           settings=DreamSettings(octaves=1, steps=1), device="cpu"))
    assert any("layer conv barely changes" in text and "--weights" in text for text in notes), notes


def test_a_model_in_training_mode_is_put_in_eval_mode_with_a_note(photo32, tiny_cnn):
    tiny_cnn.train()
    notes = notes_of(lambda: reverie.dream(photo32, model=tiny_cnn, objective="layer(features.conv2)",
                                           settings=DreamSettings(octaves=1, steps=1), device="cpu"))
    assert not tiny_cnn.training
    assert any("was in training mode" in text for text in notes), notes

    class Stubborn(nn.Dropout):
        def train(self, mode: bool = True):
            return self  # never leaves training mode
    tiny_cnn.features.add_module("drop", Stubborn())
    tiny_cnn.features.drop.training = True
    notes = notes_of(lambda: reverie.dream(photo32, model=tiny_cnn, objective="layer(features.conv2)",
                                           settings=DreamSettings(octaves=1, steps=1), device="cpu"))
    assert any("module 'features.drop' stays in training mode" in text for text in notes), notes


def test_an_output_that_saturates_suggests_the_input_range(photo32):
    class Saturating(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 5)
            with torch.no_grad():
                self.fc.weight.copy_(torch.tensor([[100.0, 100, 100], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]))
                self.fc.bias.copy_(torch.tensor([100.0, 0, 0, 0, 0]))

        def forward(self, x):
            return self.fc(x.mean(dim=(2, 3)))
    notes = notes_of(lambda: reverie.dream(photo32, model=Saturating().eval(), objective="logit(1)",
                                           settings=DreamSettings(octaves=1, steps=1), device="cpu"))
    assert any("output saturates" in text and "--normalize" in text for text in notes), notes
