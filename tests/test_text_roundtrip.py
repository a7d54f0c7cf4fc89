"""Text round trips: whatever writes itself as expression text parses back to an equal value and the same text.

Random objective trees, frame transforms and keyframe schedules are written, parsed and written
again; objectives without a text form say so and still have a repr; and the objectives and frame
transforms packages keep their imports at module top, with no module importing its package face.
"""
from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reverie.errors import ReverieError
from reverie.expressions import evaluate, format_number, parse
from reverie.frame_transforms import FUNCTIONS as TRANSFORM_FUNCTIONS
from reverie.frame_transforms import FrameTransform, parse_frame_transform
from reverie.frame_transforms.colour import HueShift, PixelSort, Posterize
from reverie.frame_transforms.coherence import ColourMatch
from reverie.frame_transforms.perlin import PerlinNoise, PerlinWarp
from reverie.frame_transforms.filters import KEEPS, Blur, Prewitt, Sharpen, Sobel
from reverie.frame_transforms.geometry import Affine, Rotate, Stretch, Translate, Zoom
from reverie.frame_transforms.roll import AlternateRoll, Linear, Roll, Sine
from reverie.frame_transforms.stochastic import RandomShift
from reverie.frame_transforms.symmetry import Kaleidoscope, Mirror
from reverie.frame_transforms.blend import Blend
from reverie.keyframes import MODES, Keyframes, OptionKeyframes, keys, option_keyframes
from reverie.objectives import (FUNCTIONS, Objective, Transparent, alignment, alpha_penalty, blend_text, blur_penalty,
                                channel, class_logit, class_probability, direction, diversity, l1, layer, masked,
                                neuron, parse_blend, parse_objective, total_variation, transparent)
from reverie.objectives.caricature import caricature
from reverie.objectives.clip import Clip, ClipSimilarity
from reverie.objectives.style import ContentObjective, StyleObjective

SOURCE = Path(__file__).resolve().parents[1] / "src" / "reverie"
BOUNDED = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies -----------------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)  # tiny, huge, negative, -0.0 and subnormal included
whole = st.integers(min_value=0, max_value=10**6)
batch = st.none() | st.integers(min_value=0, max_value=64)
layer_names = st.one_of(
    st.sampled_from(["blocks.10", "layer4.1.bn2", "features.3", "@output", "conv", "True"]),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}(\.[A-Za-z0-9_]{1,3}){0,2}", fullmatch=True),
    st.text(max_size=8),  # spaces, slashes, quotes, backslashes, other scripts: written quoted
)
vectors = st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1, max_size=5) \
    .filter(lambda vector: any(vector))

leaf_objectives = st.one_of(
    st.builds(layer, layer_names, batch=batch),
    st.builds(lambda name, indices, b: channel(name, *indices, batch=b), layer_names,
              st.lists(whole, min_size=1, max_size=3), batch),
    st.builds(neuron, layer_names, whole, x=st.none() | whole, y=st.none() | whole, batch=batch),
    st.builds(direction, layer_names, vectors, batch=batch),
    st.builds(class_logit, whole, batch=batch),
    st.builds(class_probability, whole, batch=batch),
    st.builds(diversity, layer_names),
    st.builds(alignment, layer_names, st.floats(min_value=1, allow_infinity=False)),
    st.builds(total_variation), st.builds(l1, finite), st.builds(blur_penalty), st.builds(alpha_penalty),
)


def _combine(children: st.SearchStrategy) -> st.SearchStrategy:
    def weighted(objective: Objective, weight: float) -> Objective:
        try:
            return weight * objective
        except ReverieError:  # the product overflowed: not a finite weight
            return objective

    def divided(objective: Objective, divisor: float) -> Objective:
        try:
            return objective / divisor
        except ReverieError:  # divisor 0, or 1/divisor overflowed
            return objective

    return st.one_of(
        st.builds(lambda a, b: a + b, children, children),
        st.builds(lambda a, b: a - b, children, children),
        st.builds(weighted, children, finite),
        st.builds(divided, children, finite),
        st.builds(lambda a: -a, children),
        st.builds(transparent, children, blur=st.floats(min_value=0, allow_infinity=False)),
    )


objectives = st.recursive(leaf_objectives, _combine, max_leaves=6)

keyframes = st.builds(
    lambda points, mode: Keyframes(tuple(points.items()), mode),
    st.dictionaries(st.integers(min_value=0, max_value=10**6), finite, min_size=1, max_size=4),
    st.sampled_from(MODES),
)
values = finite | st.integers(min_value=-10**6, max_value=10**6) | keyframes
shapes = values | st.builds(Linear, values, values) | st.builds(Sine, values, values, values)
axes = st.sampled_from([0, 1])
groups = st.integers(min_value=1, max_value=64)
unit = st.floats(min_value=0, max_value=1)

TRANSFORMS = {
    "zoom": st.builds(Zoom, values),
    "stretch": st.builds(Stretch, values, axes),
    "rotate": st.builds(Rotate, values),
    "translate": st.builds(Translate, values, values),
    "affine": st.builds(Affine, values, values, values, values, values, values),
    "roll": st.builds(Roll, axes, shapes, groups),
    "alternate_roll": st.builds(AlternateRoll, shapes, groups),
    "random_shift": st.builds(RandomShift, axes, shapes, shapes, groups),
    "sobel": st.builds(Sobel, st.booleans(), st.sampled_from(KEEPS), st.none() | unit | keyframes,
                       st.none() | unit | keyframes),
    "prewitt": st.builds(Prewitt, st.booleans(), st.sampled_from(KEEPS), st.none() | unit | keyframes,
                         st.none() | unit | keyframes),
    "colour_match": st.builds(ColourMatch, unit | keyframes),
    "perlin_warp": st.builds(PerlinWarp, values, st.floats(min_value=0.5, max_value=1e4), finite,
                             st.integers(min_value=0, max_value=10**6)),
    "perlin_noise": st.builds(PerlinNoise, values, st.floats(min_value=0.5, max_value=1e4), finite,
                              st.integers(min_value=0, max_value=10**6)),
    "blur": st.builds(Blur, st.floats(min_value=0, allow_infinity=False) | keyframes),
    "sharpen": st.builds(Sharpen, values, values),
    "pixel_sort": st.builds(PixelSort, axes, values, st.booleans()),
    "hue_shift": st.builds(HueShift, values),
    "posterize": st.builds(Posterize, st.integers(min_value=2, max_value=256) | keyframes),
    "kaleidoscope": st.builds(Kaleidoscope, st.integers(min_value=1, max_value=64), values),
    "mirror": st.builds(Mirror, axes),
    "blend": st.builds(Blend, unit | keyframes),
}

option_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
option_values = st.one_of(
    st.booleans(), st.integers(min_value=-10**9, max_value=10**9), finite,
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,5}(\.[A-Za-z0-9_]{1,3}){0,2}", fullmatch=True),
    st.text(max_size=8),
)
option_schedules = st.builds(
    lambda entries, mode: OptionKeyframes(tuple(sorted((frame, tuple(options.items()))
                                                       for frame, options in entries.items())), mode),
    st.dictionaries(st.integers(min_value=0, max_value=10**6),
                    st.dictionaries(option_names, option_values, min_size=1, max_size=4), min_size=1, max_size=4),
    st.sampled_from(MODES),
)


# --- objectives -----------------------------------------------------------------------------------

@BOUNDED
@given(objectives)
def test_every_textual_objective_parses_back_to_an_equal_objective(objective):
    assert objective.textual
    text = objective.expression()
    again = parse_objective(text)
    assert again == objective
    assert again.expression() == text
    assert repr(again) == f"<Objective {text}>"


@BOUNDED
@given(st.lists(st.one_of(leaf_objectives, objectives), min_size=2, max_size=3))
def test_a_blend_of_objectives_parses_back_part_by_part(parts):
    text = blend_text(parts)
    assert parse_blend(text) == parts and blend_text(parse_blend(text)) == text


def test_the_generated_objectives_reach_every_function_in_the_table():
    # Each FUNCTIONS entry has a leaf above; this fails when a new one is added without one.
    covered = {"layer", "channel", "neuron", "direction", "logit", "probability", "diversity", "alignment",
               "total_variation", "l1", "blur_penalty", "alpha_penalty", "transparent"}
    assert covered == set(FUNCTIONS)


def test_the_algebra_keeps_text_and_objects_in_step():
    assert layer("a") * 1 == layer("a") and -(-layer("a")) == layer("a")  # noqa: B002 - double negation, on purpose
    assert 2 * (layer("a") + channel("b", 1)) == parse_objective("2*layer(a) + 2*channel(b, 1)")
    assert parse_objective("layer(a) - -0.0*layer(b)").expression() == "layer(a) + 0*layer(b)"
    with pytest.raises(ReverieError, match="not a finite number"):
        layer("a") * math.inf
    with pytest.raises(ReverieError, match="by zero"):
        layer("a") / 0


def _tiny_clip() -> Clip:
    return Clip(model=None, tokenizer=lambda texts: torch.zeros(len(texts), 4, dtype=torch.long), image_size=8)


NO_TEXT = {
    "masked": masked(channel("blocks.9", 3), torch.ones(64, 64)),
    "style": StyleObjective({"blocks.3": torch.ones(1, 2, 2), "blocks.6": torch.ones(1, 3, 3)}),
    "content": ContentObjective("blocks.6", torch.zeros(1, 3, 4, 4)),
    "caricature": caricature("blocks.3", power=2),
    "clip": ClipSimilarity(_tiny_clip(), "a red lighthouse", torch.Generator()),
    "sum": layer("a") + 0.5 * caricature("b"),
    "transparent": transparent(channel("a", 1).masked(torch.ones(8, 8))),
}


@pytest.mark.parametrize("objective", NO_TEXT.values(), ids=NO_TEXT.keys())
def test_objectives_without_text_say_so_and_still_have_a_repr(objective):
    assert not objective.textual
    with pytest.raises(ReverieError, match="has no text form; it is stored through the recipe's own fields"):
        objective.expression()
    assert repr(objective) == f"<Objective {objective.label()}>"
    with pytest.raises(ReverieError):
        parse_objective(objective.label())  # a description, which no parser reads


def test_descriptions_name_what_text_cannot_carry():
    assert repr(NO_TEXT["masked"]) == "<Objective masked(channel(blocks.9, 3), mask 64x64)>"
    assert NO_TEXT["caricature"].label() == "caricature(blocks.3, power=2)"
    assert NO_TEXT["sum"].label() == "layer(a) + 0.5*caricature(b)"
    assert NO_TEXT["clip"].label() == 'clip("a red lighthouse")'


def test_objectives_with_tensors_compare_by_value():
    mask = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert masked(layer("a"), mask) == masked(layer("a"), mask.clone())
    assert masked(layer("a"), mask) != masked(layer("a"), mask / 2)
    assert ContentObjective("a", torch.ones(1, 2, 3, 3)) == ContentObjective("a", torch.ones(1, 2, 3, 3))
    assert StyleObjective({"a": torch.ones(1, 2, 2)}) != StyleObjective({"a": torch.zeros(1, 2, 2)})


def test_transparent_is_recognised_by_type_not_by_text():
    assert isinstance(parse_objective("transparent(layer(a), blur=2)"), Transparent)
    assert not isinstance(2 * transparent(layer("a")), Transparent)


def test_masked_is_a_method_of_the_objective_type():
    assert "masked" in Objective.__dict__
    assert layer("a").masked(torch.ones(4, 4)) == masked(layer("a"), torch.ones(4, 4))


# --- frame transforms and keyframes ---------------------------------------------------------------

def test_the_generated_transforms_cover_every_registered_transform():
    registered = {name for name, f in TRANSFORM_FUNCTIONS.items() if isinstance(f, type) and issubclass(f, FrameTransform)}
    assert set(TRANSFORMS) == registered


@BOUNDED
@given(st.one_of(*TRANSFORMS.values()))
def test_every_frame_transform_parses_back_to_an_equal_transform(transform):
    assert transform.textual
    text = transform.expression()
    again = parse_frame_transform(text)
    assert again == transform
    assert again.expression() == text


def test_a_frame_transform_with_a_python_function_has_no_text_form():
    transform = Roll(shift=lambda index: index % 3)
    assert not transform.textual
    with pytest.raises(ReverieError, match="cannot be written as expression text"):
        transform.expression()
    assert str(transform).startswith("Roll(")


@BOUNDED
@given(keyframes)
def test_keyframes_parse_back_from_their_text(schedule):
    text = schedule.expression()
    assert parse_frame_transform(f"zoom({text})").amount == schedule
    assert keys(schedule.text(), mode=schedule.mode) == schedule
    assert keys(schedule.text(), mode=schedule.mode).expression() == text


@BOUNDED
@given(option_schedules)
def test_option_keyframes_parse_back_from_their_texts(schedule):
    texts = schedule.texts()
    again = option_keyframes(texts, mode=schedule.mode)
    assert again == schedule
    # == cannot tell 8 from 8.0, but gliding depends on it: the types must survive too.
    assert [[type(value) for _, value in options] for _, options in again.keys] == \
        [[type(value) for _, value in options] for _, options in schedule.keys]
    assert again.texts() == texts


@BOUNDED
@given(finite | st.integers())
def test_format_number_reads_back_as_exactly_the_number(number):
    text = format_number(number)
    value = evaluate(parse(text), {})
    assert value == number and math.copysign(1, value) == math.copysign(1, number)
    assert format_number(value) == text
    kept = evaluate(parse(format_number(number, keep_point=True)), {})
    assert kept == number and type(kept) is type(number)


# --- imports: no hidden cycle, nothing imported inside functions ----------------------------------

def _modules(package: str) -> list[Path]:
    return sorted((SOURCE / package).glob("*.py"))


@pytest.mark.parametrize("path", _modules("objectives") + _modules("frame_transforms"),
                         ids=lambda path: f"{path.parent.name}/{path.name}")
def test_component_modules_import_at_the_top_and_never_their_package_face(path):
    tree = ast.parse(path.read_text())
    package = f"reverie.{path.parent.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and path.name != "__init__.py":
            assert node.module != package, f"{path.name} imports its package face {package}"
    for function in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
        for node in ast.walk(function):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                # The heavy ones, imported where first used: open_clip (CLIP only) and kornia (0.3 s at the
                # start of every command, for animations' frame transforms only).
                assert names in (["open_clip"], ["kornia"]), \
                    f"{path.name}:{node.lineno} imports {names} inside {function.name}()"
