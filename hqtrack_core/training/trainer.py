"""The training loop: clips -> unrolled VMOS -> loss -> AdamW, on one process or many (DDP).

Run it with ``hqtrack train --config NAME`` (one process) or ``torchrun --nproc_per_node N -m
hqtrack_core.training ...`` (DistributedDataParallel; gloo on CPU, nccl on GPU). The loop follows
aot-benchmark's trainer: per-step learning rate (warm-up + poly decay, encoder ratio, ID bank frozen once
sequence training starts), auxiliary reference loss decaying to 0, gradient clipping, EMA after every
step, AMP on CUDA only. Differences: the gradient is clipped *after* backward (the official non-AMP path
clips before it, a no-op), and every step re-seeds torch from ``(seed, step, rank)`` so that a run killed
and resumed from its last checkpoint reproduces the uninterrupted run exactly.

Reproducibility: a clip is a pure function of ``(seed, sample_id)`` and step ``s`` of rank ``r`` uses
sample ids ``s * global_batch + r * local_batch + j``: the data order does not depend on workers, ranks
or interruptions.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from .checkpoints import (latest_checkpoint, list_checkpoints, load_checkpoint, rng_state, save_checkpoint,
                          set_rng_state)
from .config import TrainConfig
from .ema import ModelEMA
from .losses import SegmentationLoss, aux_weight_at
from .records import MetricsLog
from .schedule import apply_lr, build_optimizer
from .unroll import ClipUnroller, random_id_permutation


# --------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------
def build_dataset(cfg: TrainConfig, data: str | os.PathLike) -> Dataset:
    """The clip dataset of ``cfg.stage`` from a data folder.

    Stage 1: a DAVIS layout (``ImageSets/``: frames of the train split used as static images) or a folder
    with ``images/`` and ``masks/``. Stage 2: a DAVIS layout (train split) or a YouTube-VOS split folder
    (``JPEGImages/``, ``Annotations/``).
    """
    from ..data.clips import VideoClips, davis_sequences, youtube_vos_sequences
    from ..data.synthetic import SyntheticClips, pairs_from_davis, pairs_from_folders

    from ..validate import check_mask_pairs

    root = Path(data)
    if not root.is_dir():
        raise FileNotFoundError(f"training data folder not found: {root}")
    is_davis = (root / "ImageSets").is_dir()
    if cfg.stage == 1:
        pairs = (pairs_from_davis(root, cfg.data_split, cfg.data_resolution, cfg.static_frame_stride) if is_davis
                 else pairs_from_folders(root / "images", root / "masks"))
        check_mask_pairs([(p.image, p.mask) for p in pairs], f"training data {root}")
        return SyntheticClips(pairs, cfg.crop, cfg.seq_len, cfg.max_objects, cfg.min_object_pixels,
                              cfg.merge_prob, cfg.seed)
    seqs = davis_sequences(root, cfg.data_split, cfg.data_resolution) if is_davis else youtube_vos_sequences(root)
    if not seqs:
        raise ValueError(f"training data {root}: no video sequence (expected ImageSets/ + JPEGImages/ + "
                         "Annotations/ (DAVIS) or JPEGImages/<seq>/ + Annotations/<seq>/ (YouTube-VOS))")
    check_mask_pairs([pair for seq in seqs for pair in zip(seq.frames, seq.masks)], f"training data {root}")
    return VideoClips(seqs, cfg.crop, cfg.seq_len, cfg.max_gap, cfg.random_reverse, cfg.video_repeat,
                      cfg.short_edge, cfg.scale_range, cfg.flip_prob, cfg.max_objects, cfg.min_object_pixels,
                      cfg.merge_prob, cfg.seed)


class StepBatchSampler(Sampler[list[int]]):
    """Batches of global sample ids for steps ``start..end-1`` of one rank."""

    def __init__(self, start: int, end: int, local_batch: int, rank: int, world: int) -> None:
        self.start, self.end, self.local_batch, self.rank, self.world = start, end, local_batch, rank, world

    def __len__(self) -> int:
        return max(0, self.end - self.start)

    def __iter__(self) -> Iterator[list[int]]:
        g = self.local_batch * self.world
        for step in range(self.start, self.end):
            base = step * g + self.rank * self.local_batch
            yield list(range(base, base + self.local_batch))


# --------------------------------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------------------------------
def build_training_model(cfg: TrainConfig) -> nn.Module:
    """The VMOS network of preset ``cfg.model`` (ImageNet encoder weights if ``pretrained_backbone``)."""
    from ..model import multiscale  # registers the multi-scale presets (hqtrack_vmos, hqtrack_teach)
    from ..model.config import get_config
    from ..model.vmos import build_vmos

    if get_config(cfg.model).multiscale:
        return multiscale.build_multiscale_vmos(cfg.model, pretrained_encoder=cfg.pretrained_backbone)
    return build_vmos(cfg.model, pretrained_encoder=cfg.pretrained_backbone)


def _freeze_encoder_bn(model: nn.Module) -> None:
    for name, module in model.named_modules():
        if name.startswith("encoder") and isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()


# --------------------------------------------------------------------------------------------------
# distribution
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed() -> DistInfo:
    """Join the process group described by torchrun's environment (``WORLD_SIZE`` > 1), else single."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistInfo(rank, world, local)


# --------------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------------
class TrainingDiverged(ValueError):
    """The loss, the gradient or the weights became NaN/inf: the message names the step, the likely cause and the
    last good checkpoint (nothing of the bad step is saved)."""


@dataclass
class TrainResult:
    out_dir: Path
    step: int  # steps completed
    finished: bool
    checkpoint: Path | None
    metrics: Path
    first_loss: float | None
    last_loss: float | None


class Trainer:
    """One training run of ``cfg`` writing checkpoints and ``metrics.jsonl`` into ``out_dir``.

    ``model`` and ``dataset`` may be injected (tests, notebooks); otherwise they are built from the
    config and ``data``. ``stop_after`` ends the run early at that step: as if killed (the last checkpoint
    is whatever ``save_every`` produced; resume tests) or, with ``save_on_stop``, with a checkpoint there.
    """

    def __init__(self, cfg: TrainConfig, out_dir: str | os.PathLike, data: str | os.PathLike | None = None,
                 model: nn.Module | None = None, dataset: Dataset | None = None, resume: bool = False,
                 stop_after: int | None = None, progress: bool = True, device: torch.device | str | None = None,
                 save_on_stop: bool = False) -> None:
        self.cfg = cfg
        self.out_dir = Path(out_dir)
        self.dist = init_distributed()
        if device is None:
            device = f"cuda:{self.dist.local_rank}" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.stop_after = stop_after
        self.save_on_stop = save_on_stop
        self.progress = progress and self.dist.is_main
        if self.cfg.batch_size % self.dist.world:
            raise ValueError(f"batch_size {cfg.batch_size} is not divisible by {self.dist.world} processes")
        self.local_batch = cfg.batch_size // self.dist.world

        if dataset is None:
            if data is None:
                raise ValueError("give either a dataset or a data folder")
            dataset = build_dataset(cfg, data)
        self.dataset = dataset

        torch.manual_seed(cfg.seed)
        self.model = (model if model is not None else build_training_model(cfg)).to(self.device)
        if cfg.init_checkpoint and not resume:
            self._load_init(cfg.init_checkpoint)
        self.unroller = ClipUnroller(
            self.model,
            SegmentationLoss(cfg.top_k_percent, cfg.hard_mining_ratio * cfg.steps, cfg.ce_weight,
                             cfg.jaccard_weight),
            long_term_gap=cfg.long_term_gap,
            align_corners=bool(getattr(getattr(self.model, "cfg", None), "align_corners", True)),
        )
        self.engine: nn.Module = self.unroller
        if self.dist.enabled:
            self.engine = nn.parallel.DistributedDataParallel(
                self.unroller, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=True, broadcast_buffers=False)
        self.optimizer = build_optimizer(self.model, cfg)
        self.ema = ModelEMA(self.model, 1.0 - 1.0 / max(cfg.steps * cfg.ema_ratio, 1.0),
                            include_bn_stats=not cfg.freeze_bn)
        from ..precision import resolve_precision

        if cfg.precision == "fp32" and cfg.amp and self.device.type == "cuda":
            self.precision = resolve_precision("fp16", self.device)  # the legacy ``amp`` switch
        else:
            self.precision = resolve_precision(cfg.precision, self.device)
        # fp16 needs a loss scaler (its exponent range is small); bf16 has fp32's range and needs none.
        self.use_amp = self.precision.name == "fp16"
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.use_amp)
        self.step = 0
        self.resumed_from: Path | None = None
        if resume:
            self._resume()
        self.metrics_path = self.out_dir / "metrics.jsonl"

    # --- state ----------------------------------------------------------------------------------------
    def _load_init(self, path: str) -> None:
        """Start from ``path``'s weights (a run's ``.pt``: its EMA; or a ``.safetensors``). A file of another
        model, or holding NaN/inf, is refused naming both models / the tensor."""
        from ..validate import check_finite_weights

        path = Path(path)
        if path.suffix == ".safetensors":
            from ..model.checkpoint import read_vmos_config
            from ..model.config import get_config
            from ..model.int8_storage import dequantize_state
            from ..validate import load_safetensors_file

            try:
                held = read_vmos_config(path)
            except ValueError:
                held = None  # a plain state dict (no vmos_config): judged by its keys and shapes below
            if held is not None and held != get_config(self.cfg.model):
                raise ValueError(f"--init {path.name} holds another model than {self.cfg.model} (its encoder "
                                 f"{held.encoder}, {'multi-scale' if held.multiscale else 'single-scale'}): pass "
                                 f"the file's own --model, or an init file of {self.cfg.model}")
            state = dequantize_state(load_safetensors_file(path, "init checkpoint"))
        else:
            ckpt = load_checkpoint(path)
            saved = ckpt.get("train_config", {}).get("model") if isinstance(ckpt, dict) else None
            if saved is not None and saved != self.cfg.model:
                raise ValueError(f"--init {path.name} is a run of model {saved}, this run trains {self.cfg.model}: "
                                 f"pass --model {saved}, or an init file of {self.cfg.model}")
            state = ckpt.get("ema", {}).get("model") or ckpt.get("model") or ckpt
        check_finite_weights(state, f"--init {path}", "start from an earlier checkpoint of that run")
        state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
        try:
            missing, unexpected = self.model.load_state_dict(state, strict=False)
        except RuntimeError as err:  # shapes differ: same names, another size of model
            raise ValueError(f"--init {path.name} does not fit model {self.cfg.model} "
                             f"({str(err).splitlines()[1].strip()[:160] if len(str(err).splitlines()) > 1 else err}): "
                             "pass an init file of this model") from None
        if unexpected or [k for k in missing if "num_batches_tracked" not in k]:
            raise ValueError(f"--init {path.name} does not fit model {self.cfg.model}: missing {missing[:5]}, "
                             f"unexpected {unexpected[:5]}")

    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "train_config": self.cfg.to_dict(),
            "model": self.model.state_dict(),
            "ema": {"model": self.ema.state_dict_for(self.model), **self.ema.state_dict()},
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            "world_size": self.dist.world,
        }

    def _resume(self) -> None:
        """Restore the newest checkpoint that reads; damaged newer ones (a kill mid-copy, a full disk) are skipped
        with a warning naming them. No checkpoint: a fresh start."""
        found = list_checkpoints(self.out_dir)
        skipped = []
        for _, path in reversed(found):
            try:
                ckpt = load_checkpoint(path)
            except ValueError:  # (load_checkpoint turns any unreadable file into one)
                skipped.append(path.name)
                continue
            if skipped:
                warnings.warn(f"skipped unreadable checkpoint(s) {', '.join(skipped)}: resuming from {path.name}, "
                              "the newest intact one", stacklevel=3)
            self._restore(path, ckpt)
            return
        if found:
            raise ValueError(f"no intact checkpoint in {self.out_dir / 'checkpoints'} ({len(found)} damaged): "
                             "start afresh without --resume, in another --out")

    def _restore(self, path: Path, ckpt: dict | None = None) -> None:
        ckpt = load_checkpoint(path) if ckpt is None else ckpt
        saved = ckpt.get("train_config", {}).get("model")
        if saved is not None and saved != self.cfg.model:
            raise ValueError(f"{self.out_dir} holds a run of model {saved}, not {self.cfg.model}: resume it without "
                             "--model (or with its own), or train the new model in another --out")
        try:
            self.model.load_state_dict(ckpt["model"])
        except (RuntimeError, KeyError) as err:
            raise ValueError(f"checkpoint {path} does not fit model {self.cfg.model} "
                             f"({str(err).splitlines()[0][:120]}): resume in the run's own configuration") from None
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.ema.load_state_dict(ckpt["ema"])
        self.scaler.load_state_dict(ckpt["scaler"])
        if "rng" in ckpt:
            set_rng_state(ckpt["rng"])  # (every step re-seeds anyway; restored for code that draws between steps)
        self.step = int(ckpt["step"])
        self.resumed_from = path

    def ema_state_dict(self) -> dict[str, torch.Tensor]:
        return self.ema.state_dict_for(self.model)

    # --- loop -----------------------------------------------------------------------------------------
    def _seed_step(self, step: int) -> None:
        torch.manual_seed((self.cfg.seed * 1_000_003 + step) * 64 + self.dist.rank)

    def run(self) -> TrainResult:
        """Train to ``cfg.steps`` (or ``stop_after``), holding the run folder's lock (main process): a second run
        into the same folder fails at once (:func:`~hqtrack_core.atomic.run_lock`)."""
        from contextlib import nullcontext

        from ..atomic import run_lock

        with run_lock(self.out_dir, "hqtrack train") if self.dist.is_main else nullcontext():
            return self._run()

    def _diverged(self, step: int, what: str, frames: torch.Tensor, lr: float) -> TrainingDiverged:
        if not bool(torch.isfinite(frames).all()):
            cause = "bad data: this batch's frames hold NaN/inf"
        else:
            cause = f"likely a learning rate too high: lr {lr:.3g} at this step; or bad data"
        kept = [path.name for _, path in list_checkpoints(self.out_dir)]
        kept_text = (f"checkpoints kept (finite weights): {', '.join(kept)} in {self.out_dir / 'checkpoints'}: "
                     "resume with a lower learning rate (--resume --set lr=...), after deleting the newest if the "
                     "loss was already rising there" if kept else
                     "no checkpoint was written yet: start again with a lower learning rate (--set lr=...)")
        return TrainingDiverged(f"training diverged at step {step}: {what} ({cause}); nothing of this step was "
                                f"saved; {kept_text}")

    def _check_weights(self, step: int, frames: torch.Tensor, lr: float) -> None:
        """Before a checkpoint: model and EMA weights finite (a finite loss can still end in a non-finite
        update); otherwise :class:`TrainingDiverged`, and nothing is written."""
        from ..validate import nonfinite_tensors

        for label, state in (("weight", self.model.state_dict()), ("EMA weight", self.ema_state_dict())):
            bad = nonfinite_tensors(state)
            if bad:
                raise self._diverged(step, f"{label} {bad[0][0]} holds NaN/inf after the update", frames, lr)

    def _run(self) -> TrainResult:
        cfg = self.cfg
        end = cfg.steps if self.stop_after is None else min(cfg.steps, self.stop_after)
        log = MetricsLog(self.metrics_path, resume_step=self.step if self.resumed_from else None) \
            if self.dist.is_main else None
        loader = DataLoader(self.dataset, batch_sampler=StepBatchSampler(self.step, end, self.local_batch,
                                                                         self.dist.rank, self.dist.world),
                            num_workers=cfg.num_workers, persistent_workers=False)
        seq_start = int(cfg.seq_training_start_ratio * cfg.steps)
        aux_steps = cfg.aux_ratio * cfg.steps
        K1 = self.unroller.max_objects + 1
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.steps, initial=self.step, desc=f"train {cfg.name}", unit="step")
        first_loss = last_loss = None
        checkpoint = None
        t_last = time.perf_counter()
        self.model.train()
        if cfg.freeze_bn:
            _freeze_encoder_bn(self.model)
        for batch in loader:
            step = self.step
            self._seed_step(step)
            use_prev = step >= seq_start
            lr = apply_lr(self.optimizer, step, cfg, cfg.seq_training_freeze if use_prev else ())
            aux_w = aux_weight_at(step, cfg.aux_weight, aux_steps)
            frames = batch["frames"].to(self.device, non_blocking=True)
            labels = batch["labels"].to(self.device, non_blocking=True)
            n_objects = [int(n) for n in batch["n_objects"]]
            shuffle = random_id_permutation(K1, frames.shape[0], device=self.device) if cfg.id_shuffle else None
            self.optimizer.zero_grad(set_to_none=True)
            with self.precision.autocast():
                out = self.engine(frames, labels, n_objects, step, aux_w, use_prev, shuffle)
                loss = out.loss.float().mean()
            if not torch.isfinite(loss):
                raise self._diverged(step, f"the loss is {loss.item()}", frames, lr)
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_grad_norm)
            if not self.use_amp and not torch.isfinite(grad_norm):  # (fp16's scaler skips such steps itself)
                raise self._diverged(step, f"the gradient norm is {float(grad_norm)}", frames, lr)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.ema.update(self.model)
            self.step = step + 1

            record_loss = loss.detach().clone()
            frame_losses = torch.stack([f.mean() for f in out.frame_losses]).detach()
            iou = _batch_iou(out.predictions, labels, n_objects)
            if self.dist.enabled:
                packed = torch.cat([record_loss.view(1), frame_losses, iou.view(1)])
                dist.all_reduce(packed)
                packed /= self.dist.world
                record_loss, frame_losses, iou = packed[0], packed[1:-1], packed[-1]
            loss_value = float(record_loss)
            first_loss = loss_value if first_loss is None else first_loss
            last_loss = loss_value
            if log is not None and (step % cfg.log_every == 0 or self.step == cfg.steps):
                now = time.perf_counter()
                log.write({
                    "step": step, "stage": cfg.stage, "loss": round(loss_value, 6), "lr": lr,
                    "aux_weight": round(aux_w, 6), "seq_training": use_prev,
                    "frame_losses": [round(float(x), 6) for x in frame_losses],
                    "iou": round(float(iou), 4), "grad_norm": round(float(grad_norm), 4),
                    "objects": round(sum(n_objects) / len(n_objects), 2),
                    "sec_per_step": round((now - t_last) / (1 if step == 0 else min(cfg.log_every, step)), 3),
                })
                t_last = now
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.3f}", iou=f"{float(iou):.2f}", lr=f"{lr:.1e}")
            at_stop = self.save_on_stop and self.step == end
            if self.step % cfg.save_every == 0 or self.step == cfg.steps or at_stop:
                self._check_weights(step, frames, lr)
                if self.dist.is_main:
                    checkpoint = save_checkpoint(self.out_dir, self.step, self.state_dict(), cfg.keep_checkpoints)
                if self.dist.enabled:
                    dist.barrier()
        if bar is not None:
            bar.close()
        return TrainResult(self.out_dir, self.step, self.step >= cfg.steps, checkpoint or latest_checkpoint(self.out_dir),
                           self.metrics_path, first_loss, last_loss)


def _batch_iou(predictions: list[torch.Tensor], labels: torch.Tensor, n_objects: list[int]) -> torch.Tensor:
    """Mean IoU over the propagated frames (1..T-1) and the objects of each clip."""
    ious = []
    for t, pred in enumerate(predictions[1:], start=1):
        gt = labels[:, t]
        for b, n in enumerate(n_objects):
            for k in range(1, n + 1):
                p, g = pred[b] == k, gt[b] == k
                union = (p | g).sum()
                ious.append(((p & g).sum() / union).float() if union > 0 else torch.tensor(1.0, device=pred.device))
    return torch.stack(ious).mean() if ious else torch.tensor(math.nan, device=labels.device)


def cleanup_distributed() -> None:
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


__all__ = ["Trainer", "TrainResult", "TrainingDiverged", "build_dataset", "build_training_model", "StepBatchSampler", "init_distributed",
           "cleanup_distributed", "DistInfo"]
