"""Clip augmentations aimed at the failures on unseen video (issue 34): motion blur, fast motion, strong scale
change across a clip and thin structures.

Every one is off by default (:class:`HardAugment` ``()``): a dataset given the default draws no random number for
them and makes exactly the clips it made before they existed. When on, their random choices come from a generator
of their own (:meth:`hqtrack_core.data.clips.ClipIndex.augment_rng`), so switching one on changes nothing else of a
clip: the same frames, crops, colour jitter and pasted objects, with the extra augmentation on top.

- **Motion blur** (``motion_blur_prob`` per frame, ``motion_blur_length`` pixels): the frame is convolved with a
  line kernel of random length and angle (camera or object moving during the exposure). The image only: the label
  map stays the object's sharp extent, which is what DAVIS annotates on a blurred frame.
- **Fast motion**: stage 2 draws, with probability ``fast_gap_prob`` per clip, its frame gaps in
  ``[1, fast_max_gap]`` instead of ``[1, max_gap]`` (a 25-frame gap at 24 fps is a second of motion); stage 1 warps
  every later frame by a random affine whose translation reaches ``static_translate`` of the size (official 0.1).
- **Scale change** (``zoom_prob`` per clip, ``zoom_range``): a zoom factor ``z`` is drawn log-uniformly; the clip
  zooms about one object's centre from scale 1 to ``z`` (``z > 1``: the object grows, as the car of drift-turn) or
  from ``1 / z`` down to 1 (``z < 1``: it shrinks), geometrically over the frames. Every frame is magnified (scale
  >= 1), so no border is ever filled. Images bilinear, label maps nearest with the same matrix: they stay aligned.
- **Thin structures** (``thin_prob`` per clip, up to ``thin_count`` of them, ``thin_width`` pixels wide): a
  quadratic Bezier curve drawn with OpenCV, coloured with a two-colour gradient along its length plus pixel noise
  (so that it is not a flat colour the network could key on), moving over the clip by a random translation,
  rotation and bend. Each curve is either a **new object** (id ``n + 1``: a cable, a kite line, a pole) or a **part of
  an existing object** (same id, anchored at that object's centre in every frame: the lines of a paraglider, a
  bike's frame), so the loss sees thin foreground both as targets and inside targets. Curves are drawn over
  everything (they occlude); a new-object curve is kept only when the reference frame shows more than
  ``min_object_pixels`` of it, and only while fewer than ``max_objects`` objects are in the clip.

Images are ``(3, H, W) uint8`` tensors, label maps ``(H, W) uint8`` tensors (as in :mod:`.transforms`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import cv2
import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode

from . import transforms as T


def _check_range(name: str, pair, lowest, strict: bool = False) -> None:
    """``pair`` = ``(low, high)`` with ``lowest <= low <= high`` (``lowest < low`` when ``strict``)."""
    lo, hi = pair
    if not ((lowest < lo) if strict else (lowest <= lo)) or lo > hi:
        bound = f"{lowest} {'<' if strict else '<='} low <= high"
        raise ValueError(f"{name} must be (low, high) with {bound}, got {(lo, hi)}")


@dataclass(frozen=True)
class HardAugment:
    """Probabilities and strengths of the failure-aimed augmentations; the defaults switch all of them off."""

    motion_blur_prob: float = 0.0  # per frame
    motion_blur_length: tuple[int, int] = (3, 15)  # kernel length in pixels (inclusive range)
    fast_gap_prob: float = 0.0  # stage 2, per clip: frame gaps in [1, fast_max_gap] instead of [1, max_gap]
    fast_max_gap: int = 25
    static_translate: float = 0.1  # stage 1: largest per-frame translation of the affine warp (fraction of size)
    zoom_prob: float = 0.0  # per clip
    zoom_range: tuple[float, float] = (0.5, 2.0)  # final zoom factor, log-uniform
    thin_prob: float = 0.0  # per clip
    thin_width: tuple[int, int] = (1, 4)  # curve width in pixels (inclusive range)
    thin_count: int = 2  # at most this many curves per clip

    def __post_init__(self) -> None:
        for name in ("motion_blur_prob", "fast_gap_prob", "zoom_prob", "thin_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} is a probability in [0, 1], got {value}")
        _check_range("motion_blur_length", self.motion_blur_length, 1)
        if self.fast_max_gap < 1:
            raise ValueError(f"fast_max_gap must be >= 1, got {self.fast_max_gap}")
        if not 0.0 <= self.static_translate <= 0.5:
            raise ValueError(f"static_translate is a fraction of the size in [0, 0.5], got {self.static_translate}")
        _check_range("zoom_range", self.zoom_range, 0.0, strict=True)
        _check_range("thin_width", self.thin_width, 1)
        if self.thin_count < 1:
            raise ValueError(f"thin_count must be >= 1, got {self.thin_count}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @property
    def any_clip_level(self) -> bool:
        """Whether :func:`apply_clip_augment` does anything (blur, zoom or thin structures on)."""
        return self.motion_blur_prob > 0 or self.zoom_prob > 0 or self.thin_prob > 0


# ------------------------------------------------------------------------------------------------------------------
# motion blur
# ------------------------------------------------------------------------------------------------------------------
def motion_blur_kernel(length: int, angle: float) -> np.ndarray:
    """``(k, k) float32`` kernel summing to 1: a line of ``length`` pixels through the centre at ``angle`` degrees
    (0 = horizontal, counter-clockwise as seen on the image); ``k`` is ``length`` rounded up to odd."""
    k = int(length) | 1
    kernel = np.zeros((k, k), np.float32)
    kernel[k // 2, :] = 1.0
    if k > 1:
        rot = cv2.getRotationMatrix2D(((k - 1) / 2, (k - 1) / 2), float(angle), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (k, k), flags=cv2.INTER_LINEAR)
    return kernel / kernel.sum()


def motion_blur(image: torch.Tensor, length: int, angle: float) -> torch.Tensor:
    """``(3, H, W) uint8`` image convolved with :func:`motion_blur_kernel` (edges reflected), same shape/dtype."""
    hwc = np.ascontiguousarray(image.permute(1, 2, 0).numpy())
    out = cv2.filter2D(hwc, -1, motion_blur_kernel(length, angle), borderType=cv2.BORDER_REFLECT_101)
    return torch.from_numpy(out).permute(2, 0, 1).contiguous()


# ------------------------------------------------------------------------------------------------------------------
# scale change
# ------------------------------------------------------------------------------------------------------------------
def zoom_scales(n_frames: int, zoom: float) -> list[float]:
    """Per-frame magnifications (all >= 1) of a clip zooming by ``zoom`` from its first frame to its last:
    ``1 -> zoom`` when ``zoom >= 1``, ``1 / zoom -> 1`` otherwise, geometrically."""
    if n_frames < 2:
        return [1.0] * n_frames
    ts = [t / (n_frames - 1) for t in range(n_frames)]
    if zoom >= 1:
        return [zoom ** t for t in ts]
    return [(1.0 / zoom) ** (1.0 - t) for t in ts]


def zoom_frame(image: torch.Tensor, labels: torch.Tensor, scale: float, center: tuple[float, float]
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Magnify ``image`` (bilinear) and ``labels`` (nearest) by ``scale`` about ``center`` = (x, y) in pixels;
    the same affine matrix for both, output of the input size."""
    if scale == 1.0:
        return image, labels
    c = [float(center[0]), float(center[1])]
    image = TF.affine(image, angle=0.0, translate=[0.0, 0.0], scale=float(scale), shear=[0.0, 0.0],
                      interpolation=InterpolationMode.BILINEAR, fill=0, center=c)
    labels = TF.affine(labels[None], angle=0.0, translate=[0.0, 0.0], scale=float(scale), shear=[0.0, 0.0],
                       interpolation=InterpolationMode.NEAREST, fill=0, center=c)[0]
    return image, labels


def zoom_clip(images: list[torch.Tensor], labels: list[torch.Tensor], n: int, rng: np.random.Generator,
              zoom_range: tuple[float, float], max_objects: int, min_pixels: int
              ) -> tuple[list[torch.Tensor], list[torch.Tensor], int]:
    """The clip zoomed by a log-uniform factor in ``zoom_range`` about one object's centre (see :func:`zoom_scales`).
    Objects left with at most ``min_pixels`` in the reference frame are dropped (renumbered); if none is left the
    clip is returned unchanged."""
    zoom = math.exp(rng.uniform(math.log(zoom_range[0]), math.log(zoom_range[1])))
    first = labels[0]
    ids = [i for i in torch.unique(first).tolist() if i != 0]
    if ids:
        ys, xs = torch.nonzero(first == ids[int(rng.integers(len(ids)))], as_tuple=True)
        center = (float(xs.float().mean()), float(ys.float().mean()))
    else:
        center = ((first.shape[1] - 1) / 2, (first.shape[0] - 1) / 2)
    zoomed = [zoom_frame(im, lb, s, center) for im, lb, s in zip(images, labels, zoom_scales(len(images), zoom))]
    new_images, new_labels = [z[0] for z in zoomed], [z[1] for z in zoomed]
    counts = torch.bincount(new_labels[0].flatten().long(), minlength=256)
    if all(int(counts[i]) > min_pixels for i in range(1, n + 1)):
        return new_images, new_labels, n
    new_labels, kept = T.select_objects(new_labels, rng, max_objects, min_pixels)
    return (new_images, new_labels, kept) if kept else (images, labels, n)


# ------------------------------------------------------------------------------------------------------------------
# thin structures
# ------------------------------------------------------------------------------------------------------------------
def _bezier(points: np.ndarray, samples: int = 48) -> np.ndarray:
    """``(samples, 2)`` points of the quadratic Bezier curve with control points ``points`` (3, 2)."""
    t = np.linspace(0.0, 1.0, samples)[:, None]
    return (1 - t) ** 2 * points[0] + 2 * (1 - t) * t * points[1] + t ** 2 * points[2]


def _rotate(points: np.ndarray, center: np.ndarray, degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return (points - center) @ rot.T + center


def draw_thin_curve(image: torch.Tensor, labels: torch.Tensor, curve: np.ndarray, width: int, label: int,
                    colours: tuple[np.ndarray, np.ndarray], noise: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw the polyline ``curve`` ((N, 2) x, y) ``width`` pixels wide over ``image`` and write ``label`` under it.

    The colour runs from ``colours[0]`` to ``colours[1]`` along the curve, plus ``noise`` ((H, W, 3) float, added
    where the curve is). The label map gets exactly the pixels the image gets."""
    h, w = labels.shape
    mask = np.zeros((h, w), np.uint8)
    param = np.zeros((h, w), np.float32)
    pts = np.round(curve).astype(np.int32)
    for k in range(len(pts) - 1):  # each segment marks its pixels and its position along the curve
        seg = np.zeros((h, w), np.uint8)
        cv2.line(seg, tuple(int(v) for v in pts[k]), tuple(int(v) for v in pts[k + 1]), 1, int(width), cv2.LINE_8)
        new = (seg > 0) & (mask == 0)
        param[new] = k / max(1, len(pts) - 2)
        mask |= seg
    on = mask > 0
    if not on.any():
        return image, labels
    colour = (1 - param[..., None]) * colours[0] + param[..., None] * colours[1] + noise
    hwc = image.permute(1, 2, 0).numpy().copy()
    hwc[on] = np.clip(np.round(colour[on]), 0, 255).astype(np.uint8)
    out_labels = labels.clone()
    out_labels[torch.from_numpy(on)] = int(label)
    return torch.from_numpy(hwc).permute(2, 0, 1).contiguous(), out_labels


def thin_structures(images: list[torch.Tensor], labels: list[torch.Tensor], n: int, rng: np.random.Generator,
                    width_range: tuple[int, int], count: int, max_objects: int, min_pixels: int
                    ) -> tuple[list[torch.Tensor], list[torch.Tensor], int]:
    """Add 1..``count`` moving thin curves to the clip, each a new object or a part of an existing one (module
    docstring). Returns the new frames, label maps and object count."""
    images, labels = list(images), list(labels)
    h, w = labels[0].shape
    size = float(min(h, w))
    for _ in range(int(rng.integers(1, count + 1))):
        as_part = n > 0 and rng.random() < 0.5
        width = int(rng.integers(width_range[0], width_range[1] + 1))
        colours = (rng.uniform(0, 255, 3), rng.uniform(0, 255, 3))
        length = rng.uniform(0.3, 0.8) * size
        angle = rng.uniform(0, 2 * math.pi)
        direction = np.array([math.cos(angle), math.sin(angle)])
        bend = rng.uniform(-0.3, 0.3) * length * np.array([-direction[1], direction[0]])
        velocity = rng.uniform(-0.06, 0.06, 2) * size  # pixels per frame
        spin = rng.uniform(-8.0, 8.0)  # degrees per frame
        wobble = rng.uniform(-0.05, 0.05) * length  # bend change per frame
        if as_part:
            target = int(rng.integers(1, n + 1))
            anchor_mode = True
            start = None
        else:
            target = n + 1
            anchor_mode = False
            start = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        if not as_part and n >= max_objects:
            continue
        drawn_images, drawn_labels = [], []
        last_anchor = np.array([(w - 1) / 2, (h - 1) / 2])
        for t, (im, lb) in enumerate(zip(images, labels)):
            if anchor_mode:
                ys, xs = torch.nonzero(lb == target, as_tuple=True)
                if len(xs):
                    last_anchor = np.array([float(xs.float().mean()), float(ys.float().mean())])
                origin = last_anchor
            else:
                origin = start + velocity * t
            normal = np.array([-direction[1], direction[0]])
            ctrl = np.stack([origin, origin + 0.5 * length * direction + bend + wobble * t * normal,
                             origin + length * direction])
            curve = _rotate(_bezier(ctrl), origin, spin * t)
            noise = rng.normal(0.0, 8.0, (h, w, 3)).astype(np.float32)
            im, lb = draw_thin_curve(im, lb, curve, width, target, colours, noise)
            drawn_images.append(im)
            drawn_labels.append(lb)
        if not as_part and int((drawn_labels[0] == target).sum()) <= min_pixels:
            continue  # a new object must be visible in the reference frame
        images, labels = drawn_images, drawn_labels
        if not as_part:
            n += 1
    # a curve drawn over an object may hide it in the reference frame: drop such objects (renumbered)
    counts = torch.bincount(labels[0].flatten().long(), minlength=256)
    if any(int(counts[i]) <= min_pixels for i in range(1, n + 1)):
        labels, n = T.select_objects(labels, rng, max_objects, min_pixels)
    return images, labels, n


# ------------------------------------------------------------------------------------------------------------------
# the clip-level pipeline
# ------------------------------------------------------------------------------------------------------------------
def apply_clip_augment(images: list[torch.Tensor], labels: list[torch.Tensor], n: int, aug: HardAugment,
                       rng: np.random.Generator, max_objects: int, min_pixels: int
                       ) -> tuple[list[torch.Tensor], list[torch.Tensor], int]:
    """Zoom (p ``zoom_prob``), thin structures (p ``thin_prob``), then motion blur (p ``motion_blur_prob`` per
    frame) on a finished clip; draws nothing from ``rng`` for an augmentation that is off."""
    if aug.zoom_prob > 0 and rng.random() < aug.zoom_prob:
        images, labels, n = zoom_clip(images, labels, n, rng, aug.zoom_range, max_objects, min_pixels)
    if aug.thin_prob > 0 and rng.random() < aug.thin_prob:
        images, labels, n = thin_structures(images, labels, n, rng, aug.thin_width, aug.thin_count, max_objects,
                                            min_pixels)
    if aug.motion_blur_prob > 0:
        lo, hi = aug.motion_blur_length
        images = [motion_blur(im, int(rng.integers(lo, hi + 1)), float(rng.uniform(0, 180)))
                  if rng.random() < aug.motion_blur_prob else im for im in images]
    return images, labels, n


__all__ = ["HardAugment", "apply_clip_augment", "motion_blur", "motion_blur_kernel", "thin_structures",
           "draw_thin_curve", "zoom_clip", "zoom_frame", "zoom_scales"]
