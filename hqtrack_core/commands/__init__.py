"""Sub-commands of the ``hqtrack`` CLI (one module each, see ``hqtrack_core.cli``)."""
