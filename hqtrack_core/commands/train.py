"""``hqtrack train`` (and ``python -m hqtrack_core.training``): the training run, a finished run's export (the parser
and the command's description: ``hqtrack_core.commands.parsers.train``)."""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import torch

from ..atomic import run_lock, write_json_atomic
from ..model.card import ModelCard
from ..model.checkpoint import save_vmos
from ..paths import data_root, repo_root
from ..render import check_output_suffix
from ..training.config import TrainConfig, get_train_config
from ..training.records import plot_loss_curve, read_metrics
from ..training.distributed import cleanup_distributed, init_distributed
from ..training.trainer import Trainer
from ..validate import check_file_writable, check_finite_weights


def resolve_config(args: argparse.Namespace):
    path = Path(args.config)
    cfg = TrainConfig.from_json(path) if path.suffix == ".json" and path.is_file() else get_train_config(args.config)
    changes = {}
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.model:
        changes["model"] = args.model
    if args.init:
        changes["init_checkpoint"] = args.init
    if getattr(args, "precision", None):
        changes["precision"] = args.precision
    for item in args.set:
        if "=" not in item:
            raise ValueError(f"--set expects FIELD=JSON, got {item!r}")
        key, value = item.split("=", 1)
        try:
            changes[key] = json.loads(value)
        except json.JSONDecodeError:
            changes[key] = value
    if changes:
        cfg = TrainConfig.from_dict({**cfg.to_dict(), **changes})
    return cfg


def run(args: argparse.Namespace) -> int:
    cfg = resolve_config(args)
    data = args.data
    if data is None:
        root = data_root()
        if root is None:
            raise FileNotFoundError("no --data given and no shared data found (set HQTRACK_DATA)")
        data = root / "davis2016"
    out = Path(args.out) if args.out else repo_root() / "runs" / cfg.name
    if args.export:
        check_file_writable(check_output_suffix(args.export, (".safetensors",), "--export"), "--export")
    if init_distributed().is_main:  # one run per folder: a second one fails at once, naming the first
        with run_lock(out, "hqtrack train"):
            return _train(args, cfg, data, out)
    return _train(args, cfg, data, out)


def _train(args: argparse.Namespace, cfg, data, out: Path) -> int:
    trainer = Trainer(cfg, out, data=data, resume=args.resume, progress=not args.no_progress,
                      stop_after=args.stop_after, save_on_stop=True)
    if trainer.dist.is_main:
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / "train_config.json", cfg.to_dict(), sort_keys=True)
        print(f"hqtrack train: {cfg.name} ({cfg.model}), precision {trainer.precision.describe()}, "
              f"device {trainer.device}, {torch.get_num_threads()} threads")
        if trainer.resumed_from:
            print(f"resumed from {trainer.resumed_from} (step {trainer.step})")
    result = trainer.run()
    if trainer.dist.is_main:
        print(f"trained {cfg.name}: step {result.step}/{cfg.steps}, loss {result.first_loss} -> {result.last_loss}, "
              f"checkpoint {result.checkpoint}")
        if args.export:
            export_model(trainer, args.export)
            print(f"exported EMA weights to {args.export}")
        if args.figure:
            plot_loss_curve(read_metrics(result.metrics), args.figure, title=f"{cfg.name} ({cfg.model})")
    cleanup_distributed()
    return 0


def default_model_card(cfg, step: int):
    """The card an exported checkpoint gets unless one is given: trained and preferred at the training scale
    (stage 2's short edge; stage 1 crops static images of ``data_resolution``), precision auto, no refiner."""
    short = cfg.short_edge if cfg.stage == 2 else None
    return ModelCard(
        name=cfg.model, train_short_edge=short, preferred_short_edge=short, preferred_precision="auto",
        preferred_refiner="none",
        data=f"{cfg.data_split} split ({cfg.data_resolution}), stage {cfg.stage}",
        steps=f"{step} steps of batch {cfg.batch_size}, crop {cfg.crop[0]}x{cfg.crop[1]}, precision {cfg.precision}",
    )


def export_model(trainer, path: str | Path, half: bool = True, card=None) -> Path:
    """Write the EMA weights in the format :func:`hqtrack_core.api.build_vmos` loads (safetensors with the VMOS config in
    its metadata; float16 halves the file) plus ``<stem>.json`` (model + training config, readable). Each file is
    written atomically, the weights first; NaN/inf EMA weights are refused before anything is written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ema = trainer.ema_state_dict()
    check_finite_weights(ema, f"the EMA of step {trainer.step}", "nothing was exported; export an earlier checkpoint")
    model = copy.deepcopy(trainer.model).cpu()
    model.load_state_dict(ema)
    if half:
        model = model.half()
    card = card or default_model_card(trainer.cfg, trainer.step)
    save_vmos(model, path, preset=trainer.cfg.model, card=card)
    info = {"preset": trainer.cfg.model, "vmos_config": model.cfg.to_dict(), "dtype": "float16" if half else "float32",
            "weights": "EMA", "train_config": trainer.cfg.to_dict(), "step": trainer.step,
            "model_card": card.to_dict()}
    write_json_atomic(path.with_suffix(".json"), info, sort_keys=True, default=list)
    return path
