"""VMOS network: DeAOT core (encoders, ID bank, gated propagation, FPN decoder) and HQTrack extensions."""

from .config import PRESETS, VMOSConfig, get_config, register_config
from .vmos import VMOS, Features, Propagation, build_vmos
from . import multiscale  # noqa: E402,F401  (registers the HQTrack presets: hqtrack_vmos, hqtrack_teach)

__all__ = ["PRESETS", "VMOSConfig", "get_config", "register_config", "VMOS", "Features", "Propagation",
           "build_vmos"]
