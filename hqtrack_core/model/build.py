"""The builder of the VMOS network: a preset name or a :class:`~.config.VMOSConfig` -> :class:`~.vmos.VMOS`, or
HQTrack's :class:`~.multiscale.MultiScaleVMOS` when the config is multi-scale.

Every preset is registered in :mod:`.config`; this module imports both network classes, so neither imports
the other's builder.
"""

from __future__ import annotations

from dataclasses import replace

from .config import VMOSConfig, get_config
from .multiscale import MultiScaleVMOS
from .vmos import VMOS

__all__ = ["vmos_from_preset", "vmos_from_config"]


def vmos_from_config(cfg: VMOSConfig, pretrained_encoder: bool = False) -> VMOS:
    """The network of ``cfg``: :class:`VMOS`, or HQTrack's multi-scale VMOS when ``cfg.multiscale``."""
    if cfg.multiscale:
        return MultiScaleVMOS(cfg, pretrained_encoder=pretrained_encoder)
    if cfg.decoder == "quarter":  # a multi-scale preset made single-scale (``multiscale=False``): DeAOT's FPN decoder
        cfg = replace(cfg, decoder="fpn")
    return VMOS(cfg, pretrained_encoder=pretrained_encoder)


def vmos_from_preset(name: str = "deaot_t", pretrained_encoder: bool = False, **overrides) -> VMOS:
    """Registry builder: ``vmos_from_preset("deaot_l")``, ``vmos_from_preset("hqtrack_vmos")``; keyword overrides replace
    config fields."""
    return vmos_from_config(get_config(name, **overrides), pretrained_encoder=pretrained_encoder)
