"""HQ-SAM (and plain SAM) as HQTrack's mask refiner, from the PyPI package ``segment-anything-hq``.

HQTrack prompts HQ-SAM with the tight box of each VMOS mask (multimask output on, the HQ mask summed with SAM's
best mask, i.e. ``hq_token_only=False``). The released tracker calls ``set_image`` once *per object*, encoding
the same frame again for every object; here the frame is encoded **once** and the boxes of all objects go
through the mask decoder as one batch (:meth:`SamRefiner.propose`).

Models are built from the package's registries (``sam_model_registry`` for HQ-SAM,
``sam_model_registry_baseline`` for SAM's original decoder) with random weights, then *we* load the checkpoint
on CPU (the package's builder calls ``torch.load`` without ``map_location``) with a strict key check.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ..precision import PrecisionChoice, resolve_precision
from ..validate import check_weights_file
from ..weights import load_torch_file
from .base import Proposals, Refiner, check_boxes, check_image
from .boxes import masks_to_boxes
from .sam_kernels import apply_fast_kernels
from .selector import DEFAULT_THRESHOLD, OverlapRule

MODEL_TYPES: tuple[str, ...] = ("vit_tiny", "vit_b", "vit_l", "vit_h")
Decoder = Literal["hq", "sam"]
# Modules HQ-SAM adds to SAM's mask decoder (absent from the plain-SAM baseline).
HQ_ONLY_PREFIXES: tuple[str, ...] = tuple(
    f"mask_decoder.{name}."
    for name in ("hf_token", "hf_mlp", "compress_vit_feat", "embedding_encoder", "embedding_maskfeature")
)


def _registries():
    # segment_anything_hq re-registers TinyViT names in timm's registry on import: silence that notice.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import segment_anything_hq as sah
    return sah.sam_model_registry, sah.sam_model_registry_baseline


def _unwrap_state_dict(state: object, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(state, dict):
        for key in ("model", "state_dict"):
            if key in state and isinstance(state[key], dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} does not hold a SAM state dict (name -> tensor)")
    return {k.removeprefix("module."): v for k, v in state.items()}


def load_sam_checkpoint(
    model: torch.nn.Module, checkpoint: str | Path, *, drop_hq_keys: bool = False, strict: bool = True
) -> None:
    """Load a (HQ-)SAM checkpoint into ``model`` on CPU.

    Args:
        drop_hq_keys: ignore HQ-SAM's extra decoder weights (to run the plain-SAM baseline from an HQ-SAM
            checkpoint: HQ-SAM keeps SAM's weights frozen, so the rest *is* SAM).
        strict: raise on missing/unexpected names (default); False loads the matching names and warns with the
            list (the package's own builder loads non-strictly and prints it).

    Raises:
        FileNotFoundError: no file at ``checkpoint``.
        KeyError: the checkpoint's names (``strict``) or shapes do not match the model.
    """
    path = Path(checkpoint).expanduser()
    state = _unwrap_state_dict(load_torch_file(path, "SAM checkpoint", weights_only=True), path)
    if drop_hq_keys:
        state = {k: v for k, v in state.items() if not k.startswith(HQ_ONLY_PREFIXES)}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        message = (
            f"checkpoint {path.name} does not match the model: {len(missing)} missing "
            f"{missing[:8]}{' ...' if len(missing) > 8 else ''}, {len(unexpected)} unexpected "
            f"{unexpected[:8]}{' ...' if len(unexpected) > 8 else ''} (wrong model_type or decoder?)"
        )
        if strict:
            raise KeyError(message)
        warnings.warn(message, stacklevel=2)
        state = {k: v for k, v in state.items() if k in expected}
    wrong = [k for k, v in state.items() if v.shape != expected[k].shape]
    if wrong:
        raise KeyError(f"checkpoint {path.name}: shape mismatch for {wrong[:8]} (wrong model_type?)")
    model.load_state_dict(state, strict=strict)


def build_sam(
    model_type: str = "vit_tiny",
    checkpoint: str | Path | None = None,
    decoder: Decoder = "hq",
    device: str | torch.device = "cpu",
    strict: bool = True,
) -> torch.nn.Module:
    """A SAM model (``segment_anything_hq.modeling.Sam``) in eval mode.

    Args:
        model_type: one of ``vit_tiny``, ``vit_b``, ``vit_l``, ``vit_h``.
        checkpoint: path of the weights; ``None`` keeps the random initialisation (tests, mechanics).
        decoder: ``"hq"`` (HQ-SAM's decoder) or ``"sam"`` (the original SAM decoder, the baseline).
        strict: see :func:`load_sam_checkpoint`.
    """
    if model_type not in MODEL_TYPES:
        raise KeyError(f"unknown SAM model_type {model_type!r}; choose one of {MODEL_TYPES}")
    if decoder not in ("hq", "sam"):
        raise ValueError(f"decoder must be 'hq' or 'sam', got {decoder!r}")
    if checkpoint is not None:  # a missing / truncated file fails before the model is built
        check_weights_file(Path(checkpoint).expanduser(), "SAM checkpoint")
    hq_registry, sam_registry = _registries()
    registry = hq_registry if decoder == "hq" else sam_registry
    model = registry[model_type](checkpoint=None)
    if checkpoint is not None:
        load_sam_checkpoint(model, checkpoint, drop_hq_keys=decoder == "sam", strict=strict)
    return model.to(device).eval()


class SamRefiner(Refiner):
    """HQ-SAM / SAM box-prompted refiner; one image encoding per frame, all boxes in one decoder batch.

    Args:
        model: a ``Sam`` from :func:`build_sam`.
        multimask: ask the decoder for its 3 candidate masks and keep the best by predicted IoU (the
            released tracker's setting); False uses the single-mask output.
        hq_token_only: HQ-SAM only: use the HQ mask alone instead of HQ + SAM's best mask (released: False).
        box_margin: grow the tight box by this fraction of its size on each side (released: 0).
        decode_batch: at most this many prompts per decoder call (bounds memory with many objects).
        fast_kernels: swap in (in place) the equivalent faster kernels of :mod:`.sam_kernels` (fused LayerNorm,
            folded conv + BatchNorm, folded HQ head, shared first transformer layer); same weights and names, mask
            logits equal within float rounding. False keeps the package's modules exactly.
        threshold, overlap: the IoU selector (see :mod:`hqtrack_core.refine.selector`).
        precision: ``"fp32"`` (default, exact), ``"bf16"``, ``"fp16"`` (GPU) or ``"auto"``: the image encoder and
            the decoder run under autocast in that precision (weights stay fp32); masks are boolean and scores
            fp32 either way. After construction, the resolved :class:`~hqtrack_core.precision.PrecisionChoice`.
    """

    name = "hqsam"

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        multimask: bool = True,
        hq_token_only: bool = False,
        box_margin: float = 0.0,
        decode_batch: int = 16,
        fast_kernels: bool = True,
        threshold: float = DEFAULT_THRESHOLD,
        overlap: OverlapRule = "lowest_id",
        precision: str | PrecisionChoice = "fp32",
    ) -> None:
        super().__init__(threshold, overlap)
        self.precision = resolve_precision(precision, next(model.parameters()).device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from segment_anything_hq import SamPredictor
            from segment_anything_hq.modeling import MaskDecoderHQ
        if box_margin < 0:
            raise ValueError(f"box_margin must be >= 0, got {box_margin}")
        if decode_batch < 1:
            raise ValueError(f"decode_batch must be >= 1, got {decode_batch}")
        self.is_hq = isinstance(model.mask_decoder, MaskDecoderHQ)
        if hq_token_only and not self.is_hq:
            raise ValueError("hq_token_only needs the HQ-SAM decoder; this model has SAM's original one")
        if fast_kernels:
            apply_fast_kernels(model)
        self.model = model.eval()
        self.predictor = SamPredictor(model)
        self.name = "hqsam" if self.is_hq else "sam"
        self.multimask = bool(multimask)
        self.hq_token_only = bool(hq_token_only)
        self.box_margin = float(box_margin)
        self.decode_batch = int(decode_batch)
        self.encode_count = 0  # number of image encodings run (one per frame)

    @classmethod
    def from_checkpoint(
        cls,
        checkpoint: str | Path | None = None,
        model_type: str = "vit_tiny",
        decoder: Decoder = "hq",
        device: str | torch.device = "cpu",
        strict: bool = True,
        **options,
    ) -> "SamRefiner":
        """Build the model (:func:`build_sam`) and the refiner; ``options`` are the refiner's arguments."""
        return cls(build_sam(model_type, checkpoint, decoder, device, strict), **options)

    # -- encoding -----------------------------------------------------------------------------------------
    def set_image(self, image: np.ndarray) -> None:
        """Encode ``image`` (``(H, W, 3)`` uint8 RGB) with the ViT, once; later prompts reuse the embedding."""
        image = check_image(image)
        with self.precision.autocast():
            self.predictor.set_image(image, image_format="RGB")
        self.encode_count += 1

    # -- decoding -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def decode(
        self,
        boxes: np.ndarray | None = None,
        points: np.ndarray | None = None,
        point_labels: np.ndarray | None = None,
    ) -> Proposals:
        """Masks for prompts on the image set by :meth:`set_image`.

        Args:
            boxes: ``(N, 4)`` ``(x0, y0, x1, y1)`` in original image pixels.
            points: ``(N, P, 2)`` ``(x, y)`` points with ``point_labels`` ``(N, P)`` (1 = object, 0 = background).

        Returns:
            :class:`Proposals` with ``(N, H, W)`` masks at the original image size.
        """
        predictor = self.predictor
        if not predictor.is_image_set:
            raise RuntimeError("call set_image(image) before decode()")
        size = predictor.original_size
        device = predictor.device
        n = None
        box_t = point_t = label_t = None
        if boxes is not None:
            boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
            n = len(boxes)
            box_t = predictor.transform.apply_boxes_torch(torch.as_tensor(boxes, dtype=torch.float32), size)
            box_t = box_t.to(device)
        if points is not None:
            points = np.asarray(points, dtype=np.float64)
            if points.ndim == 2:
                points = points[None]
            if point_labels is None:
                raise ValueError("points need point_labels (1 = object, 0 = background)")
            point_labels = np.asarray(point_labels).reshape(points.shape[:2])
            if n is not None and len(points) != n:
                raise ValueError(f"{len(points)} point sets for {n} boxes")
            n = len(points)
            point_t = predictor.transform.apply_coords_torch(torch.as_tensor(points, dtype=torch.float32), size)
            point_t = point_t.to(device)
            label_t = torch.as_tensor(point_labels, dtype=torch.int64, device=device)
        if n is None:
            raise ValueError("decode needs boxes and/or points")
        masks, scores = [], []
        for start in range(0, n, self.decode_batch):
            chunk = slice(start, start + self.decode_batch)
            kwargs = {"hq_token_only": self.hq_token_only} if self.is_hq else {}
            with self.precision.autocast():
                out_masks, out_iou, _ = predictor.predict_torch(
                    point_t[chunk] if point_t is not None else None,
                    label_t[chunk] if label_t is not None else None,
                    boxes=box_t[chunk] if box_t is not None else None,
                    multimask_output=self.multimask,
                    **kwargs,
                )
            # (B, C, H, W) with C = 1 (HQ decoder already picks SAM's best) or 3 (plain SAM multimask):
            # keep each prompt's mask of highest predicted IoU, as the released tracker does.
            best = out_iou.argmax(dim=1)
            rows = torch.arange(out_masks.shape[0], device=out_masks.device)
            masks.append(out_masks[rows, best].cpu().numpy().astype(bool))
            scores.append(out_iou[rows, best].float().cpu().numpy())
        return Proposals(masks=np.concatenate(masks), scores=np.concatenate(scores).astype(np.float64))

    # -- Refiner interface --------------------------------------------------------------------------------
    def propose(self, image: np.ndarray, masks: np.ndarray) -> Proposals:
        self.set_image(image)
        return self.decode(boxes=masks_to_boxes(masks, self.box_margin))

    def segment_boxes(self, image: np.ndarray, boxes: np.ndarray) -> Proposals:
        image = check_image(image)
        boxes = check_boxes(boxes, image.shape)
        self.set_image(image)
        return self.decode(boxes=boxes)

    def segment_points(self, image: np.ndarray, points: np.ndarray, point_labels: np.ndarray) -> Proposals:
        """Masks for point prompts: ``points`` ``(N, P, 2)`` (x, y), ``point_labels`` ``(N, P)``."""
        self.set_image(image)
        return self.decode(points=points, point_labels=point_labels)
