"""The front door: one config, the builders, one video loop.

    from hqtrack_core import InferenceConfig, build_tracker, track_video
    config = InferenceConfig.from_card()                    # the teaching model, its model card's settings
    tracker = build_tracker(config.replace(flip=False))     # VMOS (+ refiner + IoU selector when config.refiner)
    for frame in track_video(tracker, frames, {first_stem: first_mask}):
        frame.labels                                        # (H, W) object ids

- :mod:`.config`: :class:`InferenceConfig` and the model card's defaults (resolved there, once);
- :mod:`.build`: :func:`build_vmos`, :func:`build_refiner`, :func:`build_tracker`;
- :mod:`.video`: :func:`track_video` (joint, or ``per_object``) and :class:`TrackedFrame`;
- :mod:`.checkpoints`: the shipped checkpoints (the default model, the ablation baselines).
"""

from .build import build_refiner, build_tracker, build_vmos, resolve_device
from .checkpoints import DEFAULT_MODEL, default_checkpoint
from .config import InferenceConfig, model_card_of
from .per_object import PerObjectTracker
from .video import TrackedFrame, track_video

__all__ = ["InferenceConfig", "build_vmos", "build_refiner", "build_tracker", "track_video", "TrackedFrame",
           "PerObjectTracker", "model_card_of", "resolve_device", "default_checkpoint", "DEFAULT_MODEL"]
