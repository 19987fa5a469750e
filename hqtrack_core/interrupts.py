"""Termination signals as exceptions: SIGTERM (``timeout``, Slurm, ``docker stop``) and SIGHUP (a dropped ssh
session) unwind the program like Ctrl-C does, so every ``finally`` runs (staging folders and temporary files are
removed) and the command ends with one line and the shell's exit code ``128 + signal``.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Terminated", "exit_code", "termination_as_exception"]


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM / SIGHUP; a KeyboardInterrupt, so code that cleans up on Ctrl-C
    (tqdm, data loaders) does the same here."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """The shell's convention: 128 + the signal number (130 for Ctrl-C)."""
    return 128 + (interrupt.signum if isinstance(interrupt, Terminated) else int(signal.SIGINT))


def _raise(signum, frame) -> None:
    raise Terminated(signum)


@contextmanager
def termination_as_exception(signals: tuple[str, ...] = ("SIGTERM", "SIGHUP")) -> Iterator[None]:
    """Within the block, the given signals raise :class:`Terminated` (main thread only; elsewhere a no-op)."""
    previous = {}
    try:
        for name in signals:
            if hasattr(signal, name):
                number = getattr(signal, name)
                try:
                    previous[number] = signal.signal(number, _raise)
                except ValueError:  # not the main thread
                    pass
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
