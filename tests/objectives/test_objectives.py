"""Objectives: their scores, their algebra, their expression text, and what they refuse."""
from __future__ import annotations

import pytest
import torch

from reverie import ReverieError, channel, layer, parse_objective


@pytest.fixture
def activations():
    generator = torch.Generator().manual_seed(3)
    return {
        "a": torch.randn(1, 4, 5, 5, generator=generator),
        "b": torch.randn(1, 6, 5, 5, generator=generator),
        "features.3": torch.randn(1, 2, 3, 3, generator=generator),
    }


def close(value: torch.Tensor, expected: torch.Tensor) -> bool:
    return torch.allclose(value, expected, rtol=1e-6, atol=1e-6)


def test_layer_scores_the_mean_squared_activation(activations):
    assert close(layer("a")(activations), activations["a"].pow(2).mean())


def test_channel_scores_the_mean_of_the_chosen_channels(activations):
    b = activations["b"]
    assert close(channel("b", 4)(activations), b[:, 4].mean())
    assert close(channel("b", 0, 5)(activations), (b[:, 0].mean() + b[:, 5].mean()) / 2)


def test_sums_differences_and_scalar_multiples_score_like_numbers(activations):
    a, b = layer("a")(activations), channel("b", 2)(activations)
    assert close((layer("a") + channel("b", 2))(activations), a + b)
    assert close((layer("a") - channel("b", 2))(activations), a - b)
    assert close((layer("a") - 0.5 * channel("b", 2))(activations), a - 0.5 * b)
    assert close((channel("b", 2) * 3)(activations), 3 * b)
    assert close((layer("a") / 4)(activations), a / 4)
    assert close((-layer("a"))(activations), -a)
    assert close((layer("a") - (channel("b", 2) - layer("a")))(activations), 2 * a - b)


@pytest.mark.parametrize("objective, text", [
    (layer("a") + channel("b", 2), "layer(a) + channel(b, 2)"),
    (layer("a") - 0.5 * channel("b", 0, 5), "layer(a) - 0.5*channel(b, 0, 5)"),
    (-layer("a"), "-layer(a)"),
    (layer("a") / 4, "0.25*layer(a)"),
    (2 * layer("a") - (layer("b") - layer("features.3")), "2*layer(a) - layer(b) + layer(features.3)"),
    (channel("b", 1) * -1.5 + layer("a"), "-1.5*channel(b, 1) + layer(a)"),
])
def test_combined_objectives_write_their_expression(objective, text):
    assert objective.expression() == text
    assert repr(objective) == f"<Objective {text}>"


@pytest.mark.parametrize("text", [
    "layer(blocks.6)",
    "channel(blocks.9, 7)",
    "channel(blocks.9, 7, 12)",
    "layer(blocks.6) + 0.5*channel(blocks.9, 7)",
    "-layer(a) - 2*layer(b) + 0.001*channel(features.3, 1)",
    "1e+20*layer(a) + 1e-20*layer(b)",
])
def test_expression_text_parses_back_to_the_same_objective(text, activations):
    objective = parse_objective(text)
    assert objective.expression() == text
    again = parse_objective(objective.expression())
    assert again.expression() == text
    assert again.layers == objective.layers
    if set(objective.layers) <= set(activations):
        assert close(again(activations), objective(activations))


@pytest.mark.parametrize("weight, text", [
    (0.123456789, "0.123456789"),     # six significant digits would write 0.123457
    (1 / 3, "0.3333333333333333"),
    (1234567.0, "1234567"),           # a whole number, without its ".0"
    (2.5e-07, "2.5e-07"),
    (-0.1 - 0.2, "0.30000000000000004"),  # the sign goes before the term
])
def test_weights_are_written_exactly_and_score_the_same_when_parsed(weight, text, activations):
    objective = layer("a") + weight * channel("b", 2) - 3 * layer("features.3")
    written = objective.expression()
    sign = "-" if weight < 0 else "+"
    assert written == f"layer(a) {sign} {text}*channel(b, 2) - 3*layer(features.3)"
    again = parse_objective(written)
    assert again == objective  # the same weights, bit for bit
    assert torch.equal(again(activations), objective(activations))
    assert again.expression() == written


def test_parsing_understands_the_arithmetic_it_reads(activations):
    parsed = parse_objective("(layer(a) - channel(b, 2)) * 2 - -layer(a) / 2")
    a, b = layer("a")(activations), channel("b", 2)(activations)
    assert close(parsed(activations), 2 * a - 2 * b + 0.5 * a)


def test_layer_names_that_need_quoting_survive_the_round_trip():
    objective = layer("my block") + channel("x-y", 1)
    assert parse_objective(objective.expression()).layers == ("my block", "x-y")


@pytest.mark.parametrize("text, message", [
    ("3", "'3' is not an objective"),
    ("layer(a", r"expected ',' or '\)'"),
    ("open(a)", r"unknown function 'open' \(valid: layer, channel"),
    ("layer(a) * layer(b)", r"cannot apply '\*'"),
    ("layer(a) + 1", r"cannot apply '\+'"),
])
def test_text_that_is_not_an_objective_is_refused(text, message):
    with pytest.raises(ReverieError, match=message):
        parse_objective(text)


def test_objectives_do_not_multiply_with_each_other_or_add_numbers():
    with pytest.raises(TypeError):
        layer("a") * layer("b")
    with pytest.raises(TypeError):
        layer("a") + 1


def test_layers_are_the_union_of_the_terms_in_first_use_order():
    objective = channel("b", 1) + layer("a") - 0.5 * channel("b", 3) + layer("features.3") - layer("a")
    assert objective.layers == ("b", "a", "features.3")
    assert layer("a").layers == ("a",)


def test_channel_out_of_range_says_the_valid_range():
    shapes = {"b": torch.Size([1, 6, 5, 5]), "a": torch.Size([1, 4, 5, 5])}
    channel("b", 0, 5).check(shapes)  # in range: no error
    with pytest.raises(ReverieError, match=r"channel 6 is out of range for layer b \(valid: 0-5\)"):
        channel("b", 6).check(shapes)
    with pytest.raises(ReverieError, match=r"channel -1 .*\(valid: 0-5\)"):
        channel("b", -1).check(shapes)
    with pytest.raises(ReverieError, match=r"valid: 0-3"):  # checked inside sums too
        (layer("b") + channel("a", 4)).check(shapes)


def test_channel_of_a_layer_without_channels_is_refused():
    with pytest.raises(ReverieError, match="no channels"):
        channel("fc", 0).check({"fc": torch.Size([10])})


def test_channel_indices_must_be_whole_numbers():
    assert channel("b", 2.0).indices == (2,)
    with pytest.raises(ReverieError, match="whole number"):
        channel("b", 1.5)
    with pytest.raises(ReverieError, match="at least one channel"):
        channel("b")
