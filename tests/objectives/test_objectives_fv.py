"""Feature-visualization objectives: batch targeting, neuron, direction, class, diversity, regularisers."""
from __future__ import annotations

import pytest
import torch

from reverie.errors import ReverieError
from reverie.models.inspect import layer_shapes
from reverie.objectives import (FUNCTIONS, IMAGE, alpha_penalty, blur_penalty, channel, class_logit,
                                class_probability, direction, diversity, l1, layer, neuron, parse_objective,
                                total_variation)
from reverie.recorder import INPUT, OUTPUT, ActivationRecorder


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def close(value: torch.Tensor, expected) -> bool:
    return torch.allclose(value, torch.as_tensor(expected, dtype=value.dtype), rtol=1e-5, atol=1e-6)


def one_line_error(call) -> str:
    """The ReverieError message ``call()`` raises, checked to be a single line."""
    with pytest.raises(ReverieError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.fixture
def activations():
    """A batch of three: "a" [3, 4, 6, 9] (height 6, width 9, so x and y cannot be swapped unnoticed)."""
    return {"a": randn(3, 4, 6, 9, seed=1), "fc": randn(3, 5, seed=2)}


# --- batch targeting ---------------------------------------------------------------------------

def test_batch_targeting_picks_the_right_item(activations):
    a = activations["a"]
    for item in range(3):
        assert close(layer("a", batch=item)(activations), a[item].pow(2).mean())
        assert close(channel("a", 2, batch=item)(activations), a[item, 2].mean())
        assert close(neuron("a", 1, batch=item)(activations), a[item, 1, 3, 4])
    assert close(channel("a", 2)(activations), a[:, 2].mean())  # no batch: mean over the batch
    assert not close(channel("a", 2, batch=0)(activations), channel("a", 2, batch=1)(activations))


def test_batch_out_of_range_fails_when_scoring(activations):
    message = one_line_error(lambda: channel("a", 1, batch=3)(activations))
    assert message == "batch 3 is out of range in channel(a, 1, batch=3): the batch has 3 images (valid: 0-2)"
    channel("a", 1, batch=3).check({"a": torch.Size([1, 4, 6, 9])})  # probe shapes do not know the batch
    with pytest.raises(ReverieError, match="batch 5 is out of range in logit"):
        class_logit(0, batch=5)({OUTPUT: randn(2, 10)})


@pytest.mark.parametrize("bad", [-1, 1.5, "x", True])
def test_batch_must_be_a_whole_number(bad):
    for make in (lambda: layer("a", batch=bad), lambda: channel("a", 1, batch=bad),
                 lambda: neuron("a", 1, batch=bad), lambda: direction("a", [1.0], batch=bad),
                 lambda: class_logit(1, batch=bad), lambda: class_probability(1, batch=bad)):
        assert "batch must be a whole number" in one_line_error(make)
    assert channel("a", 1, batch=2.0).batch == 2


# --- neuron ------------------------------------------------------------------------------------

def test_neuron_default_is_the_centre(activations):
    a = activations["a"]  # H 6, W 9: centre y 3, x 4
    assert close(neuron("a", 3)(activations), a[:, 3, 3, 4].mean())
    assert close(neuron("a", 3, x=8, y=0)(activations), a[:, 3, 0, 8].mean())
    assert close(neuron("a", 3, x=0)(activations), a[:, 3, 3, 0].mean())  # y keeps the centre
    assert close(neuron("a", 3, y=5)(activations), a[:, 3, 5, 4].mean())


def test_neuron_outside_the_map_fails_when_scoring(activations):
    message = one_line_error(lambda: neuron("a", 0, x=9)(activations))
    assert "position x=9, y=3 is outside layer a's 9x6 map" in message and "x 0-8, y 0-5" in message


def test_neuron_check_validates_channel_and_map():
    shapes = {"a": torch.Size([1, 4, 6, 9]), "fc": torch.Size([1, 5])}
    neuron("a", 3).check(shapes)
    assert one_line_error(lambda: neuron("a", 4).check(shapes)) == "channel 4 is out of range for layer a (valid: 0-3)"
    assert "needs a layer with a spatial map" in one_line_error(lambda: neuron("fc", 0).check(shapes))


# --- direction ---------------------------------------------------------------------------------

def test_direction_of_a_one_hot_vector_equals_the_channel_mean(activations):
    # The vector is normalised, so its length does not matter.
    assert close(direction("a", [0, 0, 3.0, 0])(activations), channel("a", 2)(activations))
    assert close(direction("a", "0,0,0,1", batch=1)(activations), channel("a", 3, batch=1)(activations))
    assert close(direction("fc", [0, 1, 0, 0, 0])(activations), activations["fc"][:, 1].mean())


def test_direction_is_the_mean_dot_product_with_the_unit_vector(activations):
    vector = torch.tensor([1.0, -2.0, 0.5, 2.0])
    unit = vector / vector.norm()
    expected = torch.einsum("bchw,c->bhw", activations["a"], unit).mean()
    assert close(direction("a", vector)(activations), expected)
    assert close(direction("a", "1, -2, 0.5, 2")(activations), expected)  # text gives the same vector
    assert direction("a", "1, -2, 0.5, 2").expression() == direction("a", vector).expression()


def test_direction_length_must_match_the_channels(activations):
    wrong = direction("a", "1,2,3")
    assert one_line_error(lambda: wrong.check({"a": torch.Size([1, 4, 6, 9])})) == (
        "direction has 3 values but layer a has 4 channels")
    assert "direction has 3 values" in one_line_error(lambda: wrong(activations))


@pytest.mark.parametrize("bad, message", [
    ("", "comma-separated numbers"),
    ("1,,2", "comma-separated numbers"),
    ("0.1,abc", "comma-separated numbers"),
    ("0, 0, 0", "all zeros"),
    ("1, nan", "finite"),
    ("1, 1e39", "finite"),  # beyond float32
    (5, "sequence of numbers"),
    ([], "empty"),
    (["1"], "must hold numbers"),
    (torch.ones(2, 2), "1-D"),
])
def test_direction_refuses_bad_vectors(bad, message):
    assert message in one_line_error(lambda: direction("a", bad))


def test_direction_text_keeps_the_float32_vector_exactly():
    vector = randn(24, seed=5)
    objective = direction("blocks.9", vector)
    again = parse_objective(objective.expression())
    assert again.vector == objective.vector == tuple(vector.tolist())
    assert len(objective.expression()) < 24 * 13 + 40  # shortest float32 text, not 17-digit doubles


# --- class objectives --------------------------------------------------------------------------

def test_logit_and_probability_read_the_output():
    logits = randn(3, 10, seed=3)
    outputs = {OUTPUT: logits}
    assert close(class_logit(4)(outputs), logits[:, 4].mean())
    assert close(class_logit(4, batch=2)(outputs), logits[2, 4])
    assert close(class_probability(4)(outputs), logits.softmax(1)[:, 4].mean())
    assert close(class_probability(4, batch=1)(outputs), logits[1].softmax(0)[4])
    assert class_logit(4).layers == class_probability(0).layers == (OUTPUT,)


def test_a_spatial_output_is_averaged_over_positions():
    logit_map = randn(2, 10, 3, 3, seed=4)
    averaged = logit_map.mean(dim=(2, 3))
    assert close(class_logit(7)({OUTPUT: logit_map}), averaged[:, 7].mean())
    assert close(class_probability(7)({OUTPUT: logit_map}), averaged.softmax(1)[:, 7].mean())


def test_class_index_is_range_checked_on_the_output_shape():
    shapes = {INPUT: torch.Size([1, 3, 64, 64]), OUTPUT: torch.Size([1, 10])}
    class_logit(9).check(shapes)
    assert one_line_error(lambda: class_logit(10).check(shapes)) == (
        "class 10 is out of range for the model's output (valid: 0-9)")
    assert "valid: 0-9" in one_line_error(lambda: (layer("a") - class_probability(12)).check({**shapes, "a": None}))
    assert "no classes" in one_line_error(lambda: class_logit(0).check({OUTPUT: torch.Size([10])}))
    assert "class index must be a whole number" in one_line_error(lambda: class_logit(-1))


def test_class_objectives_get_logits_from_a_real_recorder(tiny_cnn, photo32):
    objective = class_logit(3) + 0.5 * class_probability(3, batch=1) + channel("features.relu3", 2)
    image = torch.cat([photo32, photo32.flip(-1)]).requires_grad_()
    objective.check(layer_shapes(tiny_cnn, objective.layers))
    with ActivationRecorder(tiny_cnn, objective.layers) as recorder:
        activations = recorder(image)
        score = objective(activations)
    logits = tiny_cnn(image)
    assert torch.equal(activations[OUTPUT], logits)
    expected = logits[:, 3].mean() + 0.5 * logits[1].softmax(0)[3] + activations["features.relu3"][:, 2].mean()
    assert close(score, expected)
    score.backward()
    assert image.grad.abs().sum() > 0
    with pytest.raises(ReverieError, match=r"class 10 is out of range .*\(valid: 0-9\)"):
        class_logit(10).check(layer_shapes(tiny_cnn, [OUTPUT]))


# --- diversity ---------------------------------------------------------------------------------

def by_hand_diversity(activation: torch.Tensor) -> torch.Tensor:
    flat = [item.reshape(item.shape[0], -1) for item in activation]
    grams = [(f @ f.T).flatten() for f in flat]
    pairs = [torch.cosine_similarity(grams[i], grams[j], dim=0)
             for i in range(len(grams)) for j in range(len(grams)) if i != j]
    return -torch.stack(pairs).mean()


def test_diversity_is_minus_the_mean_cosine_of_gram_matrices():
    activation = randn(4, 5, 3, 3, seed=6).relu()
    assert close(diversity("a")({"a": activation}), by_hand_diversity(activation))


def test_diversity_is_minus_one_for_identical_items_and_higher_for_different_ones():
    item = randn(1, 5, 4, 4, seed=7).relu()
    assert close(diversity("a")({"a": item.repeat(3, 1, 1, 1)}), -1.0)
    assert close(diversity("a")({"a": torch.cat([item, 2 * item])}), -1.0)  # grams compared up to scale
    different = torch.cat([item, randn(1, 5, 4, 4, seed=8).relu()])
    assert diversity("a")({"a": different}) > -0.99
    # Items active in disjoint channels have orthogonal grams: the best possible score, 0.
    disjoint = torch.zeros(2, 2, 3, 3)
    disjoint[0, 0], disjoint[1, 1] = 1.0, 1.0
    assert close(diversity("a")({"a": disjoint}), 0.0)


def test_diversity_of_a_single_item_is_zero():
    assert close(diversity("a")({"a": randn(1, 5, 4, 4)}), 0.0)


def test_diversity_gradient_pushes_items_apart():
    activation = (randn(2, 3, 4, 4, seed=9).relu() + randn(1, 3, 4, 4, seed=10).relu()).requires_grad_()
    before = diversity("a")({"a": activation})
    before.backward()
    after = diversity("a")({"a": activation.detach() + 0.01 * activation.grad})
    assert after > before


# --- regularisers ------------------------------------------------------------------------------

def test_total_variation_by_hand():
    image = torch.tensor([[[[0.0, 1.0], [3.0, 5.0]]]])  # across |1-0|, |5-3|; down |3-0|, |5-1|
    assert close(total_variation()({INPUT: image}), -(1 + 2 + 3 + 4) / 4)


def test_l1_by_hand_reads_only_colour():
    image = torch.zeros(1, 4, 2, 2)
    image[:, 0] = 1.0
    image[:, 3] = 0.9  # alpha: ignored
    assert close(l1()({INPUT: image}), -(0.5 * 4 + 0.5 * 8) / 12)
    assert close(l1(constant=0.0)({INPUT: image}), -4 / 12)


def test_blur_penalty_by_hand():
    image = torch.zeros(1, 1, 3, 3)
    image[0, 0, 1, 1] = 9.0  # every replicate-padded 3x3 window holds the centre once: blur is all ones
    assert close(blur_penalty()({INPUT: image}), -(8 ** 2 + 8 * 1 ** 2) / 9)


def test_alpha_penalty_is_minus_the_mean_alpha():
    image = torch.rand(2, 4, 5, 5, generator=torch.Generator().manual_seed(11))
    assert close(alpha_penalty()({INPUT: image}), -image[:, 3].mean())
    assert "needs an RGBA image" in one_line_error(lambda: alpha_penalty()({INPUT: image[:, :3]}))


def test_regularisers_read_the_raw_image_before_the_input():
    raw, transformed = torch.zeros(1, 3, 4, 4), torch.rand(1, 3, 4, 4)
    assert close(total_variation()({IMAGE: raw, INPUT: transformed}), 0.0)
    assert total_variation()({INPUT: transformed}) < 0


@pytest.mark.parametrize("regulariser", [total_variation(), l1(), blur_penalty(), alpha_penalty()],
                         ids=lambda r: r.expression())
def test_regularisers_are_penalties_with_gradient(regulariser):
    assert regulariser.layers == ()
    noisy = torch.rand(2, 4, 16, 16, generator=torch.Generator().manual_seed(12)).requires_grad_()
    score = regulariser({INPUT: noisy})
    assert score < 0
    score.backward()
    assert noisy.grad.abs().sum() > 0
    grey = torch.full((1, 4, 8, 8), 0.5)
    if regulariser.expression() != "alpha_penalty()":
        assert close(regulariser({INPUT: grey}), 0.0)  # a flat mid-grey image is not penalised


# --- expression text ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "layer(blocks.9, batch=1)",
    "channel(blocks.9, 7)",
    "channel(blocks.9, 7) - 0.5*channel(blocks.9, 12)",
    "channel(L, 3, batch=1) + 100*diversity(L)",
    "neuron(blocks.9, 7)",
    "neuron(blocks.9, 7, x=3, y=0, batch=2)",
    "-neuron(blocks.9, 7, y=4)",
    'direction(blocks.9, "0.1,-0.2,3")',
    'direction("odd layer", "1,0", batch=0) - 2*layer(a)',
    "logit(3) - 0.5*probability(7, batch=1)",
    "-logit(0)",
    "diversity(blocks.5)",
    "total_variation()",
    "l1()",
    "l1(constant=0.25)",
    "blur_penalty()",
    "alpha_penalty()",
    "channel(blocks.9, 7) - 0.05*total_variation() - l1() - 2*blur_penalty() + 0.1*alpha_penalty()",
])
def test_expression_round_trip(text):
    objective = parse_objective(text)
    assert objective.expression() == text
    assert parse_objective(objective.expression()).expression() == text


def test_every_function_is_reachable_from_text():
    assert set(FUNCTIONS) == {"layer", "channel", "neuron", "direction", "logit", "probability", "diversity",
                              "total_variation", "l1", "blur_penalty", "alpha_penalty", "transparent", "alignment"}
    assert parse_objective("logit(3)").expression() == class_logit(3).expression() == "logit(3)"
    assert parse_objective("probability(3)") == class_probability(3)


@pytest.mark.parametrize("text, message", [
    ("neuron(blocks.9)", r"bad arguments to neuron\(\.\.\.\)"),
    ("neuron(blocks.9, 1.5)", "neuron channel index must be a whole number"),
    ("neuron(blocks.9, 1, x=-2)", "neuron x must be a whole number"),
    ("direction(blocks.9)", r"bad arguments to direction\(\.\.\.\)"),
    ("direction(blocks.9, 3)", "direction vector must be a sequence of numbers"),
    ("logit(cat)", "class index must be a whole number"),
    ("probability(1, batch=all)", "batch must be a whole number"),
    ("total_variation(3)", r"bad arguments to total_variation\(\.\.\.\)"),
    ("l1(constant=grey)", "l1 constant must be a number"),
    ("diversity(a, 100)", r"bad arguments to diversity\(\.\.\.\)"),
    ("channel(a, 1, batch=0.5)", "batch must be a whole number"),
])
def test_bad_arguments_give_one_line_errors(text, message):
    import re

    assert re.search(message, one_line_error(lambda: parse_objective(text)))
