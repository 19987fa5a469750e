"""Training: configuration presets, losses, schedule, EMA, the clip unroller and the (DDP) trainer.

Entry points: ``hqtrack train --config NAME`` (:mod:`hqtrack_core.commands.train`), ``torchrun ... -m
hqtrack_core.training ...`` for several processes, or :class:`hqtrack_core.training.trainer.Trainer`.
"""

from .config import PRESETS, TrainConfig, get_train_config, register_train_config

__all__ = ["PRESETS", "TrainConfig", "get_train_config", "register_train_config"]
