"""The paper's ablation rows: variants as data (:mod:`.rows`), clips that can show each effect
(:mod:`.generators`), running and scoring them (:mod:`.runner`) and one row end to end (:mod:`.study`,
``hqtrack ablate``), sequence by sequence (:mod:`.shards`)."""

from .rows import ROW_NAMES, ROWS, Row, Variant, get_row
from .settings import AblationSettings
from .study import ablate, write_row

__all__ = ["ROW_NAMES", "ROWS", "Row", "Variant", "get_row", "AblationSettings", "ablate", "write_row"]
