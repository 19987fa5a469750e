"""A generated video with exact ground truth, for demos and tests on machines without real data.

Objects are textured ellipses and rectangles moving on smooth trajectories over a textured background; they
can overlap (the later object is in front), leave and re-enter the frame, and appear after frame 0.
Everything is a deterministic function of the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .frames import resize_to


@dataclass(frozen=True)
class ToyObject:
    """One object of the toy video. Positions are fractions of the frame size."""

    object_id: int
    shape: str  # "ellipse" | "rect"
    radius: tuple[float, float]  # half-size (y, x) as fraction of (H, W)
    start: tuple[float, float]  # centre at frame 0 (y, x)
    velocity: tuple[float, float]  # per frame (y, x)
    wobble: float  # amplitude of a sinusoidal path perturbation
    colour: tuple[int, int, int]
    first_frame: int = 0


@dataclass
class ToyVideo:
    """Frames ``(T, H, W, 3) uint8`` RGB and labels ``(T, H, W) uint8`` (0 = background)."""

    frames: np.ndarray
    labels: np.ndarray
    objects: list[ToyObject] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def object_ids(self) -> list[int]:
        return [obj.object_id for obj in self.objects]

    def first_mask(self, object_id: int | None = None) -> np.ndarray:
        """Prompt mask at the frame where ``object_id`` (default: all objects of frame 0) first appears."""
        if object_id is None:
            return self.labels[0].copy()
        obj = next((o for o in self.objects if o.object_id == object_id), None)
        if obj is None:
            raise KeyError(f"unknown object id {object_id}; toy video has {self.object_ids}")
        return np.where(self.labels[obj.first_frame] == object_id, object_id, 0).astype(np.uint8)


def _texture(rng: np.random.Generator, height: int, width: int, scale: int) -> np.ndarray:
    """Smooth random texture in [0, 1], (H, W): bilinear upsampling of coarse noise."""
    coarse = rng.random((max(2, height // scale), max(2, width // scale))).astype(np.float32)
    return resize_to(coarse, (height, width), "cubic").clip(0, 1)


def make_toy_video(
    num_frames: int = 24,
    height: int = 240,
    width: int = 320,
    num_objects: int = 2,
    seed: int = 0,
    late_object: bool = False,
) -> ToyVideo:
    """Generate a toy video.

    Args:
        num_frames: T.
        height, width: frame size.
        num_objects: objects present from frame 0 (ids 1..num_objects), at most 8.
        seed: everything is a deterministic function of it.
        late_object: add one more object that first appears at frame ``num_frames // 3``.

    Returns:
        ToyVideo with frames (T, H, W, 3) uint8 and labels (T, H, W) uint8.
    """
    if not 1 <= num_objects <= 8:
        raise ValueError(f"num_objects must be in 1..8, got {num_objects}")
    if num_frames < 2 or height < 16 or width < 16:
        raise ValueError(f"toy video too small: {num_frames} frames of {height}x{width}")
    rng = np.random.default_rng(seed)
    palette = rng.integers(40, 255, size=(9, 3))
    objects: list[ToyObject] = []
    total = num_objects + (1 if late_object else 0)
    for index in range(total):
        first = num_frames // 3 if index >= num_objects else 0
        objects.append(
            ToyObject(
                object_id=index + 1,
                shape="ellipse" if index % 2 == 0 else "rect",
                radius=(float(rng.uniform(0.10, 0.2)), float(rng.uniform(0.08, 0.16))),
                start=(float(rng.uniform(0.25, 0.75)), float(rng.uniform(0.2, 0.8))),
                velocity=(float(rng.uniform(-0.012, 0.012)), float(rng.uniform(-0.015, 0.015))),
                wobble=float(rng.uniform(0.0, 0.05)),
                colour=tuple(int(c) for c in palette[index]),
                first_frame=first,
            )
        )
    background = np.stack([_texture(rng, height, width, 12) for _ in range(3)], axis=-1)
    background = (60 + 120 * background).astype(np.float32)
    object_textures = [_texture(rng, height, width, 6) for _ in objects]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    labels = np.zeros((num_frames, height, width), np.uint8)
    for t in range(num_frames):
        shift = int(round(2 * np.sin(t / 5.0)))  # slow camera pan
        image = np.roll(background, shift, axis=1).copy()
        label = np.zeros((height, width), np.uint8)
        for obj, tex in zip(objects, object_textures):
            if t < obj.first_frame:
                continue
            dt = t - obj.first_frame
            cy = (obj.start[0] + obj.velocity[0] * dt + obj.wobble * np.sin(dt / 3.0)) * height
            cx = (obj.start[1] + obj.velocity[1] * dt + obj.wobble * np.cos(dt / 4.0)) * width
            ry, rx = obj.radius[0] * height, obj.radius[1] * width
            if obj.shape == "ellipse":
                inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
            else:
                inside = (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
            colour = np.asarray(obj.colour, np.float32)
            image[inside] = colour * (0.6 + 0.4 * tex[inside, None])
            label[inside] = obj.object_id
        noise = rng.normal(0, 3, size=image.shape)
        frames[t] = np.clip(image + noise, 0, 255).astype(np.uint8)
        labels[t] = label
    return ToyVideo(frames=frames, labels=labels, objects=objects)
