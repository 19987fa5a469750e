"""Sub-commands of the ``hqtrack`` CLI (one module each, see ``hqtrack_core.cli``).

:data:`SUMMARIES` holds each command's one-line help, in the order ``hqtrack --help`` lists them: the command line
lists the commands from it without importing them (a command's module loads torch and the networks' code).
"""

SUMMARIES: dict[str, str] = {
    "track": "track objects through a video from a first-frame mask or box",
    "eval": "score results: DAVIS J&F or VOTS2023 measures",
    "train": "train the VMOS (stage 1 / stage 2), resumable, DDP-ready",
    "ablate": "run one row of the paper's ablation study on a DAVIS-layout folder",
    "average": "average the weights of several checkpoints (model soup)",
    "vot": "run hqtrack in the official VOT toolkit (VOTS, TraX)",
}
