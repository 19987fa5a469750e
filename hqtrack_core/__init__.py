"""hqtrack_core: the kernels of HQTrack (Tracking Anything in High Quality).

Sub-packages, one per component of the paper:

- ``model``      VMOS network (DeAOT, HQTrack multi-scale propagation, encoders)
- ``inference``  stateful per-video engine: ``step(image, mask, objects)``, memory, object groups
- ``refine``     mask refiners (HQ-SAM, SAM, classical) and the IoU selector
- ``data``       readers / writers (DAVIS, YouTube-VOS, VOTS, video files) and training clips
- ``evaluation`` DAVIS J&F and VOTS2023 measures
- ``training``   losses, schedule, distributed trainer
- ``bench``      speed and memory benchmarks (``make bench``)
- ``api``        the front door: ``InferenceConfig``, ``build_vmos``, ``build_refiner``, ``build_tracker``,
                 ``track_video`` (exported here)

    from hqtrack_core import InferenceConfig, build_tracker, track_video
    tracker = build_tracker(InferenceConfig.from_card())
    for frame in track_video(tracker, frames, {first_stem: first_mask}):
        frame.labels
"""

import importlib

__version__ = "0.1.0"

__all__ = ["InferenceConfig", "build_vmos", "build_refiner", "build_tracker", "track_video", "TrackedFrame",
           "__version__"]


def __getattr__(name: str):
    """The front door's names (:mod:`hqtrack_core.api`), imported on first use: ``import hqtrack_core.data`` (or the
    ``hqtrack`` command line's start-up) does not load torch and every network's code."""
    if name in __all__:
        return getattr(importlib.import_module(".api", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
