"""Architecture configurations of the VMOS network as data: a frozen dataclass and a registry of presets.

The presets reproduce aot-benchmark's ``configs/models/deaot*.py`` (DeAOT uses one attention head, no
intermediate LSTT outputs in the decoder, MobileNetV2 unless named ``r50_``):

=============  =========  ==========  =====================================
preset         encoder    LSTT layers  official config
=============  =========  ==========  =====================================
``deaot_t``    mobilenetv2  1          ``deaott.py``   (7.24 M parameters)
``deaot_s``    mobilenetv2  2          ``deaots.py``   (10.20 M)
``deaot_b``    mobilenetv2  3          ``deaotb.py``   (13.17 M)
``deaot_l``    mobilenetv2  3          ``deaotl.py``   (= B; differs only in memory gap, see MemoryPolicy)
``r50_deaot_l`` resnet50    3          ``r50_deaotl.py`` (19.81 M)
=============  =========  ==========  =====================================

HQTrack's multi-scale presets (``hqtrack_vmos``: InternImage-T as released; ``hqtrack_teach``: the CPU teaching
model) and the ablation variants (:data:`ABLATION_PRESETS`) are registered below too: every preset is in this
file, so none depends on which module was imported first.

Memory behaviour at test time (long-term gap, short-term skip, bounded memory) is *not* architecture; it lives
in :class:`hqtrack_core.inference.memory.MemoryPolicy`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

ENCODER_DIMS: dict[str, tuple[int, int, int, int]] = {
    # channels of the encoder taps at strides 4, 8, 16 and the last (also stride 16) feature
    "mobilenetv2": (24, 32, 96, 1280),
    "resnet50": (256, 512, 1024, 1024),
    "internimage_t": (64, 128, 256, 256),
}


@dataclass(frozen=True)
class VMOSConfig:
    """Architecture of a DeAOT-style VMOS network (no training or memory hyper-parameters here).

    Attributes mirror aot-benchmark's ``MODEL_*`` / ``TRAIN_LSTT_*`` fields; names in brackets.
    """

    encoder: str = "mobilenetv2"  # [MODEL_ENCODER]
    encoder_dims: tuple[int, ...] = ENCODER_DIMS["mobilenetv2"]  # [MODEL_ENCODER_DIM] strides 4, 8, 16, 16
    embed_dim: int = 256  # d, token width of each branch [MODEL_ENCODER_EMBEDDING_DIM]
    att_dim: int = 128  # d_att, query/key width (d // 2 with one head)
    num_layers: int = 1  # gated propagation modules in the LSTT stack [MODEL_LSTT_NUM]
    self_heads: int = 1  # [MODEL_SELF_HEADS]
    att_heads: int = 1  # long/short-term heads [MODEL_ATT_HEADS]; only 1 is supported (DeAOT)
    expand_ratio: float = 2.0  # value/gate width = expand_ratio * d
    drop_path: float = 0.1  # [TRAIN_LSTT_DROPPATH]
    drop_path_scaling: bool = False  # [TRAIN_LSTT_DROPPATH_SCALING]
    max_obj_num: int = 10  # objects per group; the ID bank has max_obj_num + 1 channels [MODEL_MAX_OBJ_NUM]
    max_local_distance: int = 7  # short-term window (2 * 7 + 1) ** 2 = 15 x 15
    local_dilation: int = 1
    decoder: str = "fpn"  # FPN head on the last LSTT output [MODEL_DECODER]
    align_corners: bool = True  # sizes 16k+1, ID bank k17 s16 p8 [MODEL_ALIGN_CORNERS]
    freeze_bn: bool = True  # frozen BatchNorm in the encoder [MODEL_FREEZE_BN]
    encoder_freeze_at: int = 2  # stem + first stage frozen in training [TRAIN_ENCODER_FREEZE_AT]
    # HQTrack multi-scale propagation (helper "hqtrack-vmos" builds the 1/8 branch from these fields).
    multiscale: bool = False
    s8_embed_dim: int = 128
    s8_num_layers: int = 1

    def __post_init__(self) -> None:
        if self.att_heads != 1 or self.self_heads != 1:
            raise ValueError(f"only one attention head is supported (DeAOT), got att_heads={self.att_heads}, "
                             f"self_heads={self.self_heads}")
        if len(self.encoder_dims) != 4:
            raise ValueError(f"encoder_dims needs 4 entries (strides 4, 8, 16, 16), got {self.encoder_dims}")
        if self.num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {self.num_layers}")

    @property
    def window(self) -> int:
        """Side of the short-term attention window (15)."""
        return 2 * self.max_local_distance + 1

    def to_dict(self) -> dict:
        out = asdict(self)
        out["encoder_dims"] = list(self.encoder_dims)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "VMOSConfig":
        data = dict(data)
        if "encoder_dims" in data:
            data["encoder_dims"] = tuple(data["encoder_dims"])
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise KeyError(f"unknown VMOSConfig fields: {sorted(unknown)}")
        return cls(**data)


PRESETS: dict[str, VMOSConfig] = {}


def register_config(name: str, cfg: VMOSConfig, overwrite: bool = False) -> VMOSConfig:
    """Add a named preset (``overwrite=False`` refuses to replace an existing name)."""
    if not isinstance(cfg, VMOSConfig):
        raise TypeError(f"expected a VMOSConfig, got {type(cfg).__name__}")
    if name in PRESETS and not overwrite:
        raise KeyError(f"config {name!r} is already registered")
    PRESETS[name] = cfg
    return cfg


def get_config(name: str, **overrides) -> VMOSConfig:
    """The preset ``name`` (see :data:`PRESETS`), optionally with fields replaced."""
    try:
        cfg = PRESETS[name]
    except KeyError:
        raise KeyError(f"unknown VMOS config {name!r}; known: {sorted(PRESETS)}") from None
    return replace(cfg, **overrides) if overrides else cfg


register_config("deaot_t", VMOSConfig(num_layers=1))
register_config("deaot_s", VMOSConfig(num_layers=2))
register_config("deaot_b", VMOSConfig(num_layers=3))
register_config("deaot_l", VMOSConfig(num_layers=3))
register_config("r50_deaot_l", VMOSConfig(encoder="resnet50", encoder_dims=ENCODER_DIMS["resnet50"], num_layers=3))

# Released HQTrack VMOS: InternImage-T (1/16 fourth stage), 3 GPMs at 1/16 + one at 1/8, 1/4 head.
HQTRACK_VMOS = VMOSConfig(
    encoder="internimage_t",
    encoder_dims=ENCODER_DIMS["internimage_t"],
    num_layers=3,
    multiscale=True,
    s8_embed_dim=128,
    s8_num_layers=1,
    decoder="quarter",
)
# Small CPU-friendly variant for teaching and training here: ImageNet MobileNetV2 backbone, multi-scale,
# one 1/16 GPM (DeAOT-T's depth) and the same 1/8 GPM (d = 128) and 1/4 head.
HQTRACK_TEACH = replace(HQTRACK_VMOS, encoder="mobilenetv2", encoder_dims=ENCODER_DIMS["mobilenetv2"], num_layers=1)
register_config("hqtrack_vmos", HQTRACK_VMOS)
register_config("hqtrack_teach", HQTRACK_TEACH)

# Ablation variants (rows 1-2 of the paper, ``hqtrack_core.ablation.rows``): the teaching model with one part
# changed, and the paper-scale single-scale InternImage-T DeAOT-L (no public checkpoint).
ABLATION_PRESETS: dict[str, VMOSConfig] = {
    "teach_single_scale": VMOSConfig(encoder="mobilenetv2", encoder_dims=ENCODER_DIMS["mobilenetv2"], num_layers=1),
    "teach_fpn_head": replace(HQTRACK_TEACH, decoder="fpn"),
    "teach_resnet50": replace(HQTRACK_TEACH, encoder="resnet50", encoder_dims=ENCODER_DIMS["resnet50"]),
    "teach_internimage_t": replace(HQTRACK_TEACH, encoder="internimage_t", encoder_dims=ENCODER_DIMS["internimage_t"]),
    "internt_deaot_l": VMOSConfig(encoder="internimage_t", encoder_dims=ENCODER_DIMS["internimage_t"], num_layers=3),
}
for _name, _cfg in ABLATION_PRESETS.items():
    register_config(_name, _cfg)
