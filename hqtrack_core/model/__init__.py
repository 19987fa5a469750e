"""VMOS network: DeAOT core (encoders, ID bank, gated propagation, FPN decoder) and HQTrack extensions."""

from .config import PRESETS, VMOSConfig, get_config, register_config
from .vmos import VMOS, Features, Propagation, build_vmos

__all__ = ["PRESETS", "VMOSConfig", "get_config", "register_config", "VMOS", "Features", "Propagation",
           "build_vmos"]
