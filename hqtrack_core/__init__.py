"""hqtrack_core: the kernels of HQTrack (Tracking Anything in High Quality).

Sub-packages, one per component of the paper:

- ``model``      VMOS network (DeAOT, HQTrack multi-scale propagation, encoders)
- ``inference``  stateful per-video engine: ``step(image, mask, objects)``, memory, object groups
- ``refine``     mask refiners (HQ-SAM, SAM, classical) and the IoU selector
- ``data``       readers / writers (DAVIS, YouTube-VOS, VOTS, video files) and training clips
- ``evaluation`` DAVIS J&F and VOTS2023 measures
- ``training``   losses, schedule, distributed trainer
- ``bench``      speed and memory benchmarks (``make bench``)
"""

__version__ = "0.1.0"
