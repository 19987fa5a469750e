"""VMOS network: DeAOT core (encoders, ID bank, gated propagation, FPN decoder) and HQTrack extensions."""

from .build import vmos_from_preset, vmos_from_config
from .config import PRESETS, VMOSConfig, get_config, register_config
from .vmos import VMOS, Features, Propagation

__all__ = ["PRESETS", "VMOSConfig", "get_config", "register_config", "VMOS", "Features", "Propagation",
           "vmos_from_preset", "vmos_from_config"]
