"""The training loop: clips -> unrolled VMOS -> loss -> AdamW, on one process or many (DDP).

Run it with ``hqtrack train --config NAME`` (one process) or ``torchrun --nproc_per_node N -m
hqtrack_core.training ...`` (DistributedDataParallel; gloo on CPU, nccl on GPU). The loop follows
aot-benchmark's trainer: per-step learning rate (warm-up + poly decay, encoder ratio, ID bank frozen once
sequence training starts), auxiliary reference loss decaying to 0, gradient clipping, EMA after every
step, AMP on CUDA only. Differences: the gradient is clipped *after* backward (the official non-AMP path
clips before it, a no-op), and every step re-seeds torch from ``(seed, step, rank)`` so that a run killed
and resumed from its last checkpoint reproduces the uninterrupted run exactly.

The pieces: the clip dataset and the per-step batches (:mod:`.dataset`), the network and its ``--init`` weights
(:mod:`.network`), the process group (:mod:`.distributed`), the clip unroll (:mod:`.unroll`), the loss
(:mod:`.losses`), the schedule (:mod:`.schedule`), EMA (:mod:`.ema`), checkpoints (:mod:`.checkpoints`), the
metrics log (:mod:`.records`) and the error of a diverged run (:mod:`.divergence`).
"""

from __future__ import annotations

import math
import os
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ..atomic import run_lock
from ..precision import resolve_precision
from .checkpoints import latest_checkpoint, list_checkpoints, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .config import TrainConfig
from .dataset import StepBatchSampler, build_dataset
from .distributed import init_distributed, mean_over_ranks
from .divergence import TrainingDiverged, check_weights, diverged
from .ema import ModelEMA
from .losses import SegmentationLoss, aux_weight_at
from .network import build_training_model, freeze_encoder_bn, load_init_weights
from .records import MetricsLog
from .schedule import apply_lr, build_optimizer
from .unroll import ClipUnroller, random_id_permutation


@dataclass
class TrainResult:
    out_dir: Path
    step: int  # steps completed
    finished: bool
    checkpoint: Path | None
    metrics: Path
    first_loss: float | None
    last_loss: float | None


@dataclass
class _StepDone:
    """What one optimiser step reports (averaged over the processes): loss, per-frame losses ``(T,)``, IoU."""

    step: int
    loss: float
    frame_losses: torch.Tensor
    iou: torch.Tensor
    grad_norm: torch.Tensor
    lr: float
    aux_weight: float
    seq_training: bool
    n_objects: list[int]
    frames: torch.Tensor  # the batch (named in a divergence error)


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
        # --init unless a checkpoint will be resumed: one command (--resume --init ...) starts a run and restarts it
        if cfg.init_checkpoint and not (resume and list_checkpoints(self.out_dir)):
            load_init_weights(self.model, cfg.init_checkpoint, cfg.model)
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
    # --- state ---
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

    # --- loop ---
    def _seed_step(self, step: int) -> None:
        torch.manual_seed((self.cfg.seed * 1_000_003 + step) * 64 + self.dist.rank)

    def run(self) -> TrainResult:
        """Train to ``cfg.steps`` (or ``stop_after``), holding the run folder's lock (main process): a second run
        into the same folder fails at once (:func:`~hqtrack_core.atomic.run_lock`)."""
        with run_lock(self.out_dir, "hqtrack train") if self.dist.is_main else nullcontext():
            return self._run()

    def _run(self) -> TrainResult:
        cfg = self.cfg
        end = cfg.steps if self.stop_after is None else min(cfg.steps, self.stop_after)
        log = MetricsLog(self.metrics_path, resume_step=self.step if self.resumed_from else None) \
            if self.dist.is_main else None
        loader = DataLoader(self.dataset, batch_sampler=StepBatchSampler(self.step, end, self.local_batch,
                                                                         self.dist.rank, self.dist.world),
                            num_workers=cfg.num_workers, persistent_workers=False)
        bar = tqdm(total=cfg.steps, initial=self.step, desc=f"train {cfg.name}", unit="step") if self.progress else None
        first_loss = last_loss = None
        checkpoint = None
        t_last = time.perf_counter()
        self.model.train()
        if cfg.freeze_bn:
            freeze_encoder_bn(self.model)
        for batch in loader:
            done = self._train_step(batch)
            first_loss = done.loss if first_loss is None else first_loss
            last_loss = done.loss
            if log is not None and (done.step % cfg.log_every == 0 or self.step == cfg.steps):
                now = time.perf_counter()
                log.write(self._metrics(done, now - t_last))
                t_last = now
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{done.loss:.3f}", iou=f"{float(done.iou):.2f}", lr=f"{done.lr:.1e}")
            at_stop = self.save_on_stop and self.step == end
            if self.step % cfg.save_every == 0 or self.step == cfg.steps or at_stop:
                check_weights(self.out_dir, done.step, {"weight": self.model.state_dict(),
                                                        "EMA weight": self.ema_state_dict()}, done.frames, done.lr)
                if self.dist.is_main:
                    checkpoint = save_checkpoint(self.out_dir, self.step, self.state_dict(), cfg.keep_checkpoints)
                if self.dist.enabled:
                    dist.barrier()
        if bar is not None:
            bar.close()
        return TrainResult(self.out_dir, self.step, self.step >= cfg.steps, checkpoint or latest_checkpoint(self.out_dir),
                           self.metrics_path, first_loss, last_loss)

    def _train_step(self, batch: dict) -> _StepDone:
        """One optimiser step on ``batch`` (step :attr:`step`, which it advances); the loss, gradient and weights
        are checked finite (:class:`TrainingDiverged`)."""
        cfg, step = self.cfg, self.step
        self._seed_step(step)
        use_prev = step >= int(cfg.seq_training_start_ratio * cfg.steps)
        lr = apply_lr(self.optimizer, step, cfg, cfg.seq_training_freeze if use_prev else ())
        aux_w = aux_weight_at(step, cfg.aux_weight, cfg.aux_ratio * cfg.steps)
        frames = batch["frames"].to(self.device, non_blocking=True)
        labels = batch["labels"].to(self.device, non_blocking=True)
        n_objects = [int(n) for n in batch["n_objects"]]
        shuffle = (random_id_permutation(self.unroller.max_objects + 1, frames.shape[0], device=self.device)
                   if cfg.id_shuffle else None)
        self.optimizer.zero_grad(set_to_none=True)
        with self.precision.autocast():
            out = self.engine(frames, labels, n_objects, step, aux_w, use_prev, shuffle)
            loss = out.loss.float().mean()
        if not torch.isfinite(loss):
            raise diverged(self.out_dir, step, f"the loss is {loss.item()}", frames, lr)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_grad_norm)
        if not self.use_amp and not torch.isfinite(grad_norm):  # (fp16's scaler skips such steps itself)
            raise diverged(self.out_dir, step, f"the gradient norm is {float(grad_norm)}", frames, lr)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.ema.update(self.model)
        self.step = step + 1

        frame_losses = torch.stack([f.mean() for f in out.frame_losses]).detach()
        iou = _batch_iou(out.predictions, labels, n_objects)
        packed = mean_over_ranks(torch.cat([loss.detach().clone().view(1), frame_losses, iou.view(1)]), self.dist)
        return _StepDone(step, float(packed[0]), packed[1:-1], packed[-1], grad_norm, lr, aux_w, use_prev,
                         n_objects, frames)

    def _metrics(self, done: _StepDone, seconds: float) -> dict:
        """The ``metrics.jsonl`` record of a step (``seconds`` since the last record)."""
        step = done.step
        return {
            "step": step, "stage": self.cfg.stage, "loss": round(done.loss, 6), "lr": done.lr,
            "aux_weight": round(done.aux_weight, 6), "seq_training": done.seq_training,
            "frame_losses": [round(float(x), 6) for x in done.frame_losses],
            "iou": round(float(done.iou), 4), "grad_norm": round(float(done.grad_norm), 4),
            "objects": round(sum(done.n_objects) / len(done.n_objects), 2),
            "sec_per_step": round(seconds / (1 if step == 0 else min(self.cfg.log_every, step)), 3),
        }


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


__all__ = ["Trainer", "TrainResult", "TrainingDiverged"]
