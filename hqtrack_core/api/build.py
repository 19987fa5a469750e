"""The builders: ``build_vmos`` (the network and its weights), ``build_refiner`` (the mask refiner registry) and
``build_tracker`` (VMOS + refiner + IoU selector, ready to step through a video), all from one
:class:`~hqtrack_core.api.config.InferenceConfig`.

``build_tracker(InferenceConfig.from_card())`` is the committed teaching model (``data/checkpoints/hqtrack_teach``,
see ``data/checkpoints/README.md``) when it is present, otherwise a randomly initialised ``hqtrack_teach`` network
(mechanics only: its masks are meaningless, and it warns).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from ..inference.engine import ResizePolicy, VMOSTracker
from ..inference.memory import memory_policy
from ..model.checkpoint import load_official_checkpoint, load_vmos, training_checkpoint_weights
from ..model.vmos import VMOS
from ..model.build import vmos_from_preset
from ..pipeline import HQTrackPipeline
from ..precision import PrecisionChoice, resolve_precision
from ..refine.build import build_refiner
from ..model.checkpoint import check_preset_matches
from ..validate import check_device, check_weights_file
from ..weights import load_torch_file
from .checkpoints import DEFAULT_MODEL, resolve_weights
from .config import InferenceConfig

__all__ = ["build_vmos", "build_refiner", "build_tracker", "resolve_device"]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then MPS, then CPU; a device that does not exist here is a ValueError."""
    return check_device(device)


def build_vmos(config: InferenceConfig | None = None, *, model: str | None = None,
               checkpoint: str | Path | None = None, pretrained_encoder: bool = False) -> tuple[VMOS, str]:
    """The VMOS network with its weights, and a one-line description of what was loaded: ``(net, description)``.

    The weights come from ``config.model`` / ``config.checkpoint`` (or the ``model`` / ``checkpoint`` keywords,
    without a config):

    - model ``None``, ``""`` or ``"auto"``: the default model (``hqtrack_teach``); else a preset name.
    - checkpoint ``None`` or ``""``: the committed teaching checkpoint when the model is the default one and the
      file exists; random weights otherwise (with a warning). ``"none"``: random weights, on purpose.
    - a ``.safetensors`` file saved by this project (config inside; the model, if given, must agree);
    - a training checkpoint of ``hqtrack train`` (``step_*.pt``): its EMA weights, the architecture its run trained
      (the model, if given, must agree); no model card (the description says so);
    - any other file: an official aot-benchmark / HQTrack checkpoint, loaded into the (required) preset with a
      clear error listing missing / unexpected keys.

    Weights holding NaN/inf are refused, naming the tensor, before any frame is tracked. ``pretrained_encoder``
    (or ``config.pretrained_encoder``): with random weights, start the encoder from its ImageNet weights where the
    package has them (MobileNetV2); ignored when a checkpoint is loaded. The network is returned in train mode,
    as ``nn.Module`` builds it: call ``.eval()`` to run it.
    """
    if config is not None:
        if model is not None or checkpoint is not None:
            raise TypeError("build_vmos: give a config or model/checkpoint, not both")
        model, checkpoint = config.model, config.checkpoint
        pretrained_encoder = pretrained_encoder or config.pretrained_encoder
    model, checkpoint = resolve_weights(model, checkpoint)
    if checkpoint is None or str(checkpoint).lower() == "none":
        name = model or DEFAULT_MODEL
        if checkpoint is None:
            warnings.warn(f"no checkpoint for {name!r}: random weights, the masks will be meaningless",
                          stacklevel=2)
        encoder = ", ImageNet encoder" if pretrained_encoder else ""
        return vmos_from_preset(name, pretrained_encoder=pretrained_encoder), f"{name} (random weights{encoder})"
    path = check_weights_file(checkpoint)
    check_preset_matches(model, path)
    if path.suffix == ".safetensors":
        net = load_vmos(path)
        return net, f"{path.name} ({net.cfg.encoder}, {'multi-scale' if net.cfg.multiscale else 'single-scale'})"
    state = load_torch_file(path)
    run = training_checkpoint_weights(state)
    if run is not None:  # a step_*.pt of `hqtrack train`: its EMA weights, as --export would write them
        preset, step, ema = run
        if model is not None and model != preset:
            raise ValueError(f"--model {model} conflicts with {path.name}, a training checkpoint of {preset}: "
                             "drop --model (the file names its own architecture)")
        net = vmos_from_preset(preset)
        load_official_checkpoint(net, ema, strict=True, what=f"{path.name} (EMA weights)")
        return net, (f"{preset}, EMA weights of training checkpoint {path.name} (step {step}; no model card: "
                     "export it with `hqtrack train ... --resume --export FILE.safetensors` for one)")
    if model is None:
        raise ValueError(f"{path.name} looks like an official checkpoint: name its architecture with --model "
                         f"(e.g. deaot_l, r50_deaot_l, hqtrack_vmos)")
    net = vmos_from_preset(model)
    load_official_checkpoint(net, state, strict=True, what=path.name)
    return net, f"{model} from official checkpoint {path.name}"


def resize_policy(short_edge: int | None) -> ResizePolicy:
    """The test-time resize of a short edge: ``None`` = the input size (sides snapped to 16k+1)."""
    if short_edge is None:
        return ResizePolicy(max_long_edge=None)
    return ResizePolicy(min_short_edge=short_edge, max_short_edge=short_edge)


def build_vmos_tracker(config: InferenceConfig, device: torch.device,
                       precision: PrecisionChoice) -> tuple[VMOSTracker, str]:
    """VMOS alone as a :class:`~hqtrack_core.inference.engine.VMOSTracker` (the first part of
    :func:`build_tracker`) and its one-line description (weights, size, precision, memory, flip, device; a
    setting the model card chose says so)."""
    policy = memory_policy(config.memory)
    net, description = build_vmos(config)
    tracker = VMOSTracker(net.eval(), policy=policy, device=device, resize=resize_policy(config.short_edge),
                          precision=precision, flip=config.flip)
    size = "input size" if config.short_edge is None else f"short edge {config.short_edge}"
    size += " (model card)" if "short_edge" in config.chosen_by_card else ""
    memory = f"memory policy {config.memory!r}" + (" (model card)" if config.card_chose("memory") else "")
    flip = f"test-time flip {'on' if config.flip else 'off'}" + (" (model card)" if config.card_chose("flip") else "")
    return tracker, (f"{description}, {size}, precision {precision.describe()}, {memory}, {flip}, "
                     f"device {tracker.device}")


def build_tracker(config: InferenceConfig | None = None, device: str | torch.device | None = None) -> HQTrackPipeline:
    """VMOS (+ the refiner and its IoU selector when ``config.refiner != "none"``), ready to step through a video.

    Args:
        config: what to run; ``None`` = ``InferenceConfig.from_card()`` (the committed teaching model).
        device: overrides ``config.device`` (``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` | ``mps``).

    Returns an :class:`~hqtrack_core.pipeline.HQTrackPipeline`: ``step(image, mask=None)``, ``.tracker`` (the
    :class:`~hqtrack_core.inference.engine.VMOSTracker`: ``.memory``, ``.model``), ``.refiner``, and
    ``.description``, one line saying what runs. The memory writes follow the memory policy (``raw``: the
    released code's; ``refined``). Bad names and devices fail before any weights load.
    """
    config = config if config is not None else InferenceConfig.from_card()
    target = resolve_device(config.device if device is None else device)
    precision = resolve_precision(config.precision, target)
    options = {"threshold": config.threshold}
    if config.refiner in ("hqsam", "sam"):
        options.update(box_margin=config.box_margin, multimask=config.multimask, hq_token_only=config.hq_token_only)
    refiner = build_refiner(config.refiner, checkpoint=config.refiner_checkpoint, model_type=config.refiner_model,
                            device=target, precision=precision, **options)
    tracker, info = build_vmos_tracker(config, target, precision)
    refined = "none" if refiner is None else config.refiner
    if config.refiner in ("hqsam", "sam"):
        refined += f" ({config.refiner_model}, precision {precision.name})"
    if config.card is not None and config.refiner == config.card.preferred_refiner:
        refined += " (model card default)"
    return HQTrackPipeline(tracker, refiner, memory_write=tracker.policy.write,
                           description=f"model {info}, refiner {refined}")
