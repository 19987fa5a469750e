"""The user-facing VMOS tracker over one video (Cutie/SAM-style ``step`` API): :class:`VMOSTracker`, its output
:class:`StepOutput`.

The pieces follow the official aot-benchmark ``AOTEngine`` / ``AOTInferEngine`` split:

- :class:`~hqtrack_core.inference.group.GroupEngine` works on batched tensors for one group of <= 10 objects:
  reference frames, propagation, decoding, memory writes into a :class:`~hqtrack_core.inference.memory.MemoryState`.
  It is differentiable (no ``no_grad`` inside). The trainer's clip unroll (:mod:`hqtrack_core.training.unroll`)
  keeps its memory in the same ``MemoryState`` but attaches identities itself (ID shuffling, detached labels in
  sequence training), so it calls the network directly rather than through ``GroupEngine``.
- :class:`VMOSTracker` (here) is the user-facing object: numpy images and label maps of arbitrary object ids,
  groups of 10 sharing the image features (:mod:`~hqtrack_core.inference.objects`), soft aggregation across groups
  (background probability = product, :mod:`~hqtrack_core.inference.merge`), objects added mid-video, the optional
  official test-time resize (:mod:`~hqtrack_core.inference.preprocess`), clear errors
  (:mod:`~hqtrack_core.inference.masks`).

``step(image, mask=None)`` = :meth:`VMOSTracker.propagate` (predict, no memory write) followed by
:meth:`VMOSTracker.remember` of its own prediction (or, when ``mask`` adds/updates objects, of the
prediction overwritten by the mask, added as a reference for the groups that gained objects). The refiner
pipeline calls ``propagate`` and ``remember`` itself to choose what is written.

Test-time flip (aot-benchmark ``TEST_FLIP``): with ``flip=True`` every frame is also run mirrored, as a second
view batched with the first (batch dimension ``V = 2`` in features, memory and logits); the two views' object
probabilities are averaged (the mirrored one mirrored back) and the labels are the argmax of the mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from ..data.transforms import normalize_image
from ..model.low_precision import low_precision_copy
from ..model.vmos import VMOS, Features, Propagation, inference_copy
from ..precision import PrecisionChoice, resolve_precision
from ..validate import frame_size
from .group import GroupEngine
from .masks import check_mask
from .memory import MEMORY_PRESETS, MemoryPolicy, MemoryState
from .merge import channel_argmax, merge_views, soft_aggregate
from .objects import ObjectManager
from .preprocess import ResizePolicy

FlipMemory = Literal["fused", "own"]
FLIP_MEMORIES: tuple[str, ...] = ("fused", "own")


@dataclass
class StepOutput:
    """Result of one frame. ``probs``/``logits`` channels: background, then ``object_ids`` in order.

    With the test-time flip, ``probs`` is the mean of the two views' probabilities and ``logits`` its log.
    """

    labels: np.ndarray  # (H, W) int64 object ids, 0 = background
    probs: torch.Tensor  # (N + 1, H, W)
    object_ids: list[int]
    frame_index: int
    logits: torch.Tensor | None = None  # (N + 1, H, W) merged logits (None on a first, reference frame)


@dataclass
class _Pending:
    frame_index: int
    features: Features
    props: list[Propagation]
    output: StepOutput
    view_labels: list[np.ndarray] | None = None  # flip: each view's own prediction, in that view's coordinates


@dataclass
class VMOSTracker:
    """Track objects through one video with a :class:`~hqtrack_core.model.vmos.VMOS`.

    ``tracker.step(image, mask)`` on the first frame (mask required), then ``tracker.step(image)``; give a
    mask again to add (new ids) or correct objects. ``image``: ``HxWx3`` uint8 RGB or float ``3xHxW`` in
    [0, 1]. ``mask``: ``HxW`` integer array of object ids, 0 = background.

    ``precision``: ``"fp32"`` (default: the exact path the parity tests use), ``"bf16"``, ``"fp16"`` (GPU) or
    ``"auto"`` (see :func:`hqtrack_core.precision.resolve_precision`); after construction it holds the resolved
    :class:`~hqtrack_core.precision.PrecisionChoice`. In bf16/fp16 the network runs under autocast on
    :func:`~hqtrack_core.model.low_precision.low_precision_copy` (weights stored in that dtype, channels-last;
    attention logits and softmax in fp32), memory is kept in that dtype, and ``probs`` / ``logits`` come back in
    fp32.

    ``flip``: test-time horizontal flip (aot-benchmark ``TEST_FLIP``; twice the compute and memory). Each frame
    runs as two views, as is and mirrored; the output is the argmax of their mean probabilities.
    ``flip_memory`` says what each view remembers: ``"fused"`` (default) the labels given to :meth:`remember`
    (the fused prediction, or the refiner's), mirrored for the mirrored view; ``"own"`` (the official
    evaluator) each view's own prediction, except where the labels given to :meth:`remember` differ from the
    fused prediction (a refiner's or a user's changes, written to both views).
    """

    model: VMOS
    policy: MemoryPolicy = field(default_factory=lambda: MEMORY_PRESETS["deaot"])
    device: torch.device | str | None = None
    resize: ResizePolicy | None = None
    optimize: bool = True  # run on inference_copy(model): BN folded, channels-last (same outputs)
    precision: str | PrecisionChoice = "fp32"
    flip: bool = False
    flip_memory: FlipMemory = "fused"

    def __post_init__(self) -> None:
        if not isinstance(self.flip, bool):
            raise ValueError(f"flip must be True or False, got {self.flip!r}")
        if self.flip_memory not in FLIP_MEMORIES:
            raise ValueError(f"flip_memory must be one of {FLIP_MEMORIES}, got {self.flip_memory!r}")
        if self.device is None:
            self.device = next(self.model.parameters()).device
        self.device = torch.device(self.device)
        self.precision = resolve_precision(self.precision, self.device)
        self.reset()

    def reset(self) -> None:
        """Forget the video (memory, objects, sizes); re-snapshot the model's current weights."""
        if self.optimize:
            if self.precision.reduced:
                self.net = low_precision_copy(self.model, self.precision.dtype, self.device)
            else:
                self.net = inference_copy(self.model).to(self.device)
        else:
            self.net = self.model.to(self.device).eval()
        self.objects = ObjectManager(self.model.max_obj_num)
        self.groups: list[GroupEngine] = []
        self.frame_index = -1
        self.image_size: tuple[int, int] | None = None
        self.input_size: tuple[int, int] | None = None
        self._pending: _Pending | None = None

    # -- inspection --------------------------------------------------------------------------------
    @property
    def memory(self) -> list[MemoryState]:
        """Memory of every object group (group ``g`` holds ``objects.group_objects(g)``)."""
        return [g.memory for g in self.groups]

    @property
    def object_ids(self) -> list[int]:
        return self.objects.object_ids

    @property
    def num_views(self) -> int:
        """Views per frame: 2 with the test-time flip (the batch dimension of memory), else 1."""
        return 2 if self.flip else 1

    # -- input checks ------------------------------------------------------------------------------
    def _prepare_image(self, image, check_only: bool = False) -> torch.Tensor | None:
        size = frame_size(image)
        if self.image_size is None:
            self.image_size = size
            self.input_size = self.resize.size_for(*size) if self.resize is not None else size
        elif size != self.image_size:
            raise ValueError(f"image size changed mid-video: {size} != {self.image_size}; call reset() first")
        if check_only:
            return None
        x = normalize_image(image, self.input_size, self.device)
        if self.flip:  # view 1: the mirrored frame (a bicubic resize commutes with the mirror)
            x = torch.cat([x, x.flip(-1)])
        return x.contiguous(memory_format=torch.channels_last) if self.optimize else x

    def _view_labels(self, labels: np.ndarray, pending: _Pending | None = None,
                     given: np.ndarray | None = None) -> list[np.ndarray]:
        """The id map each view writes, in that view's coordinates: ``labels`` (mirrored for the mirrored view),
        or with ``flip_memory="own"`` the view's own prediction of ``pending`` outside ``given`` (pixels where
        ``labels`` must win: a user's mask, a refiner's change)."""
        if not self.flip:
            return [labels]
        if self.flip_memory == "fused" or pending is None or pending.view_labels is None:
            return [labels, labels[:, ::-1]]
        if given is None:
            given = labels != pending.output.labels
        own, mirrored = pending.view_labels
        return [np.where(given, labels, own), np.where(given[:, ::-1], labels[:, ::-1], mirrored)]

    def _slot_maps(self, labels: np.ndarray, views: list[np.ndarray] | None = None) -> list[torch.Tensor]:
        """Object-id map ``(H, W)`` -> per-group slot maps ``(V, h, w)`` at the network input size, one per view
        (``V`` = :attr:`num_views`). ``views``: the id map each view writes (:meth:`_view_labels`); default
        ``labels`` for a single view. Ids are checked once, on ``labels``: the views only add known ids."""
        ids = np.unique(labels)
        unknown = [int(i) for i in ids if i != 0 and int(i) not in self.objects]
        if unknown:
            raise KeyError(f"unknown object ids {unknown} in labels; known: {self.object_ids}")
        lut_size = max([int(ids.max())] + self.object_ids) + 1
        maps = []
        for g in range(self.objects.num_groups):
            lut = np.zeros(lut_size, dtype=np.int64)
            for obj_id, slot in self.objects.group_objects(g):
                lut[obj_id] = slot
            per_view = []
            for view in views if views is not None else [labels]:
                t = torch.from_numpy(np.ascontiguousarray(lut[view]))[None].to(self.device)
                if self.input_size != self.image_size:
                    t = F.interpolate(t[None].float(), size=self.input_size, mode="nearest")[0].long()
                per_view.append(t)
            maps.append(torch.cat(per_view) if len(per_view) > 1 else per_view[0])
        return maps

    # -- the API -----------------------------------------------------------------------------------
    @torch.inference_mode()
    def propagate(self, image) -> StepOutput:
        """Predict the next frame from memory; nothing is written until :meth:`remember`."""
        if not self.groups:
            raise ValueError("the first frame needs a mask (no objects in memory yet)")
        x = self._prepare_image(image)
        self.frame_index += 1
        with self.precision.autocast():
            features = self.net.encode(x)
        props, group_logits = [], []
        for g, engine in enumerate(self.groups):
            with self.precision.autocast():
                prop = engine.propagate(features)
                props.append(prop)
                pairs = self.objects.group_objects(g)
                # Only the background and the group's active slots are upsampled: the official engine sets
                # unused slots to -1e10, which contribute exactly 0 to the softmax / aggregation below.
                low = self.net.decode(prop, features)[:, [0] + [slot for _, slot in pairs]]
            low = low.float()  # the merge, softmax and argmax below run in fp32 whatever the precision
            group_logits.append(F.interpolate(low, size=self.image_size, mode="bilinear",
                                              align_corners=self.net.cfg.align_corners))
        merged, probs, view_probs = merge_views(soft_aggregate(group_logits, self.model.max_obj_num))
        ids = np.array([0] + self.object_ids, dtype=np.int64)
        view_labels = None
        if view_probs is not None and self.flip_memory == "own":
            view_labels = [ids[channel_argmax(m).cpu().numpy()] for m in view_probs]
        labels = ids[channel_argmax(merged).cpu().numpy()]
        out = StepOutput(labels=labels, probs=probs, object_ids=self.object_ids, frame_index=self.frame_index,
                         logits=merged)
        self._pending = _Pending(self.frame_index, features, props, out, view_labels)
        return out

    @torch.inference_mode()
    def remember(self, labels: np.ndarray) -> None:
        """Write the last propagated frame into memory with the given ``HxW`` object-id map."""
        if self._pending is None:
            raise ValueError("remember() needs a frame from propagate() first (and only once per frame)")
        labels = check_mask(labels, self.image_size)
        pending, self._pending = self._pending, None
        slot_maps = self._slot_maps(labels, self._view_labels(labels, pending))
        with self.precision.autocast():
            for engine, prop, slots in zip(self.groups, pending.props, slot_maps):
                engine.remember(prop, slots, pending.frame_index)

    @torch.inference_mode()
    def add_mask(self, image, mask: np.ndarray, objects: list[int] | None = None) -> StepOutput:
        """A frame with a user mask: register its objects and store it as a reference frame.

        Later frames: ids new to the tracker are added; an id it already tracks is corrected (the mask replaces
        its prediction on this frame, background included, and the frame becomes a reference of its group);
        objects the mask does not list keep the tracker's prediction."""
        first = not self.groups
        if first:
            try:
                x = self._prepare_image(image)
                mask = check_mask(mask, self.image_size)
            except (ValueError, KeyError):
                self.reset()  # nothing half-set on a rejected first frame
                raise
            self.frame_index += 1
        else:
            self._prepare_image(image, check_only=True)  # propagate() below encodes the frame
            mask = check_mask(mask, self.image_size)
        present = sorted(int(i) for i in np.unique(mask) if i != 0)
        objects = present if objects is None else [int(i) for i in objects]
        missing = [i for i in present if i not in objects]
        if missing:
            raise ValueError(f"mask contains ids {missing} not listed in objects={objects}")
        if first and not objects:
            self.reset()
            raise ValueError("the first mask has no objects (all zeros)")
        return self._add_first_mask(x, mask, objects) if first else self._add_later_mask(image, mask, objects)

    def _add_first_mask(self, x: torch.Tensor, mask: np.ndarray, objects: list[int]) -> StepOutput:
        """The first frame (``x``: the network input): its objects registered, stored as every group's reference."""
        self.objects.add(objects)
        labels = np.where(np.isin(mask, objects), mask, 0)
        for _ in range(self.objects.num_groups):
            self.groups.append(GroupEngine(self.net, self.policy))
        with self.precision.autocast():
            features = self.net.encode(x)
            for engine, slots in zip(self.groups, self._slot_maps(labels, self._view_labels(labels))):
                engine.add_reference(features, slots, self.frame_index)
        return self._mask_output(labels)

    def _add_later_mask(self, image, mask: np.ndarray, objects: list[int]) -> StepOutput:
        """A later frame: predict, overwrite with the mask, reference for the groups that gained or corrected
        objects."""
        self.objects.check_new(objects)  # fail before any state changes
        out = self.propagate(image)
        pending, self._pending = self._pending, None
        known_before = set(self.object_ids)
        touched = self.objects.add([i for i in objects if i not in known_before])
        # A known object given again is a correction: the mask is its truth on this frame (its predicted pixels
        # outside the mask become background), and the frame is pinned as a reference for its group, as for an
        # added object, so that the correction lasts.
        corrected = [i for i in objects if i in known_before]
        for obj_id in corrected:
            group = self.objects.slot(obj_id)[0]
            if group not in touched:
                touched.append(group)
        while len(self.groups) < self.objects.num_groups:
            self.groups.append(GroupEngine(self.net, self.policy))
        keep = np.isin(mask, objects) | np.isin(out.labels, corrected)
        labels = np.where(keep, mask, out.labels)
        slot_maps = self._slot_maps(labels, self._view_labels(labels, pending, given=keep))
        with self.precision.autocast():
            for g, engine in enumerate(self.groups):
                if g in touched:
                    engine.add_reference(pending.features, slot_maps[g], pending.frame_index)
                else:
                    engine.remember(pending.props[g], slot_maps[g], pending.frame_index)
        return self._mask_output(labels)

    def _mask_output(self, labels: np.ndarray) -> StepOutput:
        """The output of a frame with a user mask: its labels, one-hot probabilities, no logits."""
        ids = [0] + self.object_ids
        probs = torch.stack([torch.from_numpy(labels == i) for i in ids]).float().to(self.device)
        return StepOutput(labels=labels, probs=probs, object_ids=self.object_ids, frame_index=self.frame_index)

    def step(self, image, mask: np.ndarray | None = None, objects: list[int] | None = None) -> StepOutput:
        """Process one frame: with ``mask`` add/update objects; otherwise propagate and remember."""
        if mask is not None or not self.groups:
            if mask is None:
                raise ValueError("the first frame needs a mask (no objects in memory yet)")
            if self.image_size is None:
                # size check of the mask against the first image (a wrong image layout is reported first)
                size = frame_size(image)
                if np.ndim(mask) == 2 and tuple(np.shape(mask)) != size:
                    raise ValueError(f"mask shape {np.shape(mask)} does not match the image size {size}")
            return self.add_mask(image, mask, objects)
        out = self.propagate(image)
        self.remember(out.labels)
        return out

    def remove_object(self, obj_id: int) -> None:
        """Stop reporting ``obj_id`` (its identity stays in memory, masked out of predictions)."""
        self.objects.remove(obj_id)
