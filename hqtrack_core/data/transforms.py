"""Training augmentations for clips (image + label map pairs), after aot-benchmark's recipe, and the ImageNet
normalisation of the encoders' input (training and inference: :func:`normalize`, :func:`normalize_image`, the one
place the mean and std are written).

Every random choice is drawn from an explicit ``numpy.random.Generator`` so that a clip is a pure function
of (seed, sample index): training is reproducible across processes, workers and resumes.
Images are ``(3, H, W) uint8`` tensors, label maps ``(H, W) uint8`` tensors of object ids (0 = background).
The pixel operations are torchvision's (``transforms.v2.functional``); label maps always use nearest.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from torchvision.transforms import InterpolationMode

from ..validate import frame_size
from .frames import resize_to

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
AFFINE_FILL = (124, 116, 104)  # official fill colour of the static-image affine warp


def to_tensor_pair(image: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """``(H, W, 3) uint8`` RGB + ``(H, W)`` ids -> ``(3, H, W) uint8`` + ``(H, W) uint8`` tensors."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"image must be (H, W, 3) uint8, got {image.shape} {image.dtype}")
    if labels.shape != image.shape[:2]:
        raise ValueError(f"label map {labels.shape} does not match image {image.shape[:2]}")
    return (torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).contiguous(),
            torch.from_numpy(np.ascontiguousarray(labels.astype(np.uint8))))


def hflip(image: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return TF.horizontal_flip(image), TF.horizontal_flip(labels)


def random_affine(image: torch.Tensor, labels: torch.Tensor, rng: np.random.Generator, degrees: float = 20.0,
                  translate: float = 0.1, scale: tuple[float, float] = (0.9, 1.1), shear: float = 10.0
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotation, translation, scale and x-shear (bilinear image with the official grey fill, nearest labels;
    the official warp is bicubic on PIL images, which torchvision's tensor kernel does not offer)."""
    h, w = labels.shape
    angle = float(rng.uniform(-degrees, degrees))
    tx = int(round(rng.uniform(-translate * w, translate * w)))
    ty = int(round(rng.uniform(-translate * h, translate * h)))
    sc = float(rng.uniform(*scale))
    sh = float(rng.uniform(-shear, shear))
    image = TF.affine(image, angle=angle, translate=[tx, ty], scale=sc, shear=[sh, 0.0],
                      interpolation=InterpolationMode.BILINEAR, fill=list(AFFINE_FILL))
    labels = TF.affine(labels[None], angle=angle, translate=[tx, ty], scale=sc, shear=[sh, 0.0],
                       interpolation=InterpolationMode.NEAREST, fill=0)[0]
    return image, labels


def random_resized_crop(image: torch.Tensor, labels: torch.Tensor, size: tuple[int, int],
                        rng: np.random.Generator, scale: tuple[float, float] = (0.8, 1.0)
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop a random area fraction in ``scale`` with aspect ratio within [3/4, 4/3] of the output's,
    resized to ``size`` (bicubic image, nearest labels); torchvision's sampling rule."""
    h, w = labels.shape
    base = size[1] / size[0]
    log_ratio = (math.log(base * 3 / 4), math.log(base * 4 / 3))
    area = h * w
    for _ in range(10):
        target = area * rng.uniform(*scale)
        ratio = math.exp(rng.uniform(*log_ratio))
        cw = int(round(math.sqrt(target * ratio)))
        ch = int(round(math.sqrt(target / ratio)))
        if 0 < cw <= w and 0 < ch <= h:
            top = int(rng.integers(0, h - ch + 1))
            left = int(rng.integers(0, w - cw + 1))
            break
    else:  # fall back to a central crop
        in_ratio = w / h
        if in_ratio < log_ratio[0]:
            cw, ch = w, int(round(w / math.exp(log_ratio[0])))
        elif in_ratio > log_ratio[1]:
            ch, cw = h, int(round(h * math.exp(log_ratio[1])))
        else:
            cw, ch = w, h
        top, left = (h - ch) // 2, (w - cw) // 2
    image = TF.resized_crop(image, top, left, ch, cw, list(size), interpolation=InterpolationMode.BICUBIC,
                            antialias=True)
    labels = TF.resized_crop(labels[None], top, left, ch, cw, list(size),
                             interpolation=InterpolationMode.NEAREST)[0]
    return image, labels


def photometric(image: torch.Tensor, rng: np.random.Generator, jitter_prob: float = 0.8,
                brightness: float = 0.4, contrast: float = 0.4, saturation: float = 0.2, hue: float = 0.1,
                gray_prob: float = 0.2, blur_prob: float = 0.3, blur_sigma: tuple[float, float] = (0.1, 2.0)
                ) -> torch.Tensor:
    """Colour jitter (random order, p 0.8), grey-scale (p 0.2), Gaussian blur (p 0.3): the "v2" recipe."""
    if rng.random() < jitter_prob:
        ops = [
            lambda x: TF.adjust_brightness(x, float(rng.uniform(1 - brightness, 1 + brightness))),
            lambda x: TF.adjust_contrast(x, float(rng.uniform(1 - contrast, 1 + contrast))),
            lambda x: TF.adjust_saturation(x, float(rng.uniform(1 - saturation, 1 + saturation))),
            lambda x: TF.adjust_hue(x, float(rng.uniform(-hue, hue))),
        ]
        for k in rng.permutation(len(ops)):
            image = ops[k](image)
    if rng.random() < gray_prob:
        image = TF.rgb_to_grayscale(image, num_output_channels=3)
    if rng.random() < blur_prob:
        sigma = float(rng.uniform(*blur_sigma))
        kernel = max(3, int(2 * math.ceil(3 * sigma) + 1))
        image = TF.gaussian_blur(image, kernel_size=[kernel, kernel], sigma=[sigma, sigma])
    return image


def _standardize(t: torch.Tensor) -> torch.Tensor:
    """``(..., 3, H, W)`` float in [0, 1] -> ``(t - mean) / std`` with the ImageNet statistics (float32)."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32).view(3, 1, 1)
    return (t.to(mean.device) - mean) / std


def normalize(images: torch.Tensor) -> torch.Tensor:
    """``(..., 3, H, W) uint8`` -> float, ImageNet-normalised (the encoders' input)."""
    return _standardize(images.float() / 255.0)


def normalize_image(image: np.ndarray | torch.Tensor, size: tuple[int, int] | None = None,
                    device: torch.device | None = None) -> torch.Tensor:
    """``HxWx3 uint8`` RGB (or float ``3xHxW`` in [0, 1]) -> ImageNet-normalised ``(1, 3, h, w)`` float32.

    ``size=(h, w)`` resizes (bicubic, as the official test-time resize) before normalising.
    """
    frame_size(image)  # layout, dtype and value range, with a clear error
    if isinstance(image, np.ndarray):
        img = image.astype(np.float32)
        if size is not None and tuple(size) != img.shape[:2]:
            img = resize_to(img, size, "cubic")
        t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1) / 255.0
    else:
        t = image.float().cpu() if device is None else image.float()
        if size is not None and tuple(size) != tuple(t.shape[-2:]):
            t = F.interpolate(t[None], size=size, mode="bicubic", align_corners=False)[0]
    t = _standardize(t)[None]
    return t.to(device) if device is not None else t


def denormalize(images: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`normalize`, to ``uint8`` (for figures)."""
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return ((images * std + mean).clamp(0, 1) * 255).round().to(torch.uint8)


def select_objects(labels: list[torch.Tensor], rng: np.random.Generator, max_objects: int,
                   min_pixels: int = 0) -> tuple[list[torch.Tensor], int]:
    """Keep at most ``max_objects`` ids present in the first frame (with > ``min_pixels`` pixels there),
    in random order, renumbered 1..n in every frame; everything else becomes background."""
    first = labels[0]
    ids, counts = torch.unique(first, return_counts=True)
    keep = [int(i) for i, c in zip(ids.tolist(), counts.tolist()) if i != 0 and c > min_pixels]
    order = rng.permutation(len(keep)) if keep else []
    keep = [keep[k] for k in order][:max_objects]
    lut = torch.zeros(256, dtype=torch.uint8)
    for new_id, old_id in enumerate(keep, start=1):
        lut[old_id] = new_id
    return [lut[lb.long()] for lb in labels], len(keep)


def paste_clip(images1: list[torch.Tensor], labels1: list[torch.Tensor], n1: int,
               images2: list[torch.Tensor], labels2: list[torch.Tensor], n2: int,
               rng: np.random.Generator, max_objects: int, min_pixels: int
               ) -> tuple[list[torch.Tensor], list[torch.Tensor], int]:
    """Paste clip 2's objects over clip 1 (frame by frame), then keep the objects with more than
    ``min_pixels`` visible pixels in the first frame (at most ``max_objects``, random subset)."""
    images, labels = [], []
    for im1, lb1, im2, lb2 in zip(images1, labels1, images2, labels2):
        fg2 = lb2 > 0
        images.append(torch.where(fg2[None], im2, im1))
        labels.append(torch.where(fg2, lb2.long() + n1, lb1.long()).to(torch.uint8))
    del n2
    labels, n = select_objects(labels, rng, max_objects, min_pixels)
    return images, labels, n
