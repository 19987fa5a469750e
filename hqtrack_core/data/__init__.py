"""Data: readers and writers of frames, masks and benchmark layouts (DAVIS, YouTube-VOS, VOTS, video files)
and the VOT file formats; training clips live beside them (``hqtrack_core.data.clips*``).

Import the sub-modules directly, e.g. ``from hqtrack_core.data.masks import read_mask``.
"""
