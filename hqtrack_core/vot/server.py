"""The TraX side of ``hqtrack vot run``: the VOT toolkit starts it once per sequence and drives it frame by frame.

Protocol (TraX 4, as ``vot-toolkit`` 0.9.0 speaks it for VOTS): the tracker announces mask regions, image paths,
the ``color`` channel and multi-object support; ``initialize`` carries the first frame and one mask per object;
every ``frame`` request may carry the masks of objects starting there; each reply lists one mask per object so
far (arrival order), an absent object as an empty mask. The pipeline is built once, after the first
``initialize`` arrives; an error there (a damaged checkpoint, a bad option) ends the session with the one-line
reason, which the toolkit prints as "Server terminated the session: hqtrack vot run: error: ...". A later
``initialize`` (a client that reuses the process) starts a new video with the same networks.

Nothing but TraX messages may go to stdout (the toolkit reads the protocol there): Python's ``sys.stdout`` is
sent to stderr while the server runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import redirect_stdout

import numpy as np

from ..data.frames import read_frame
from ..data.vot_format import MaskRegion
from .session import VotsSession

PROG = "hqtrack vot run"


def _trax():
    try:
        import trax
    except ImportError as err:  # (also an OSError from a libtrax that does not load)
        raise ValueError(f"the TraX protocol package is missing ({err}): pip install vot-trax "
                         "(it ships libtrax; vot-toolkit depends on it)") from None
    return trax


def open_server():
    """The TraX handshake: a server for multi-object masks on ``color`` image paths."""
    trax = _trax()
    return trax.Server([trax.Region.MASK], [trax.Image.PATH], ["color"], tracker_name="hqtrack",
                       tracker_description="HQTrack: VMOS + mask refiner (hqtrack_core)", multiobject=True)


def refuse_session(reason: str) -> None:
    """Answer the toolkit's first request with ``quit(reason)`` (the tracker cannot start); no-op without trax."""
    try:
        server = open_server()
        request = server.wait()
        if request.type != "quit":
            server.quit(reason=reason)
    except Exception:  # the reason is also on stderr, which the toolkit logs
        pass


def region_to_mask(region, size: tuple[int, int]) -> np.ndarray:
    """A TraX region as a ``(H, W)`` bool mask of the frame (``size = (H, W)``); only masks are accepted."""
    trax = _trax()
    if region.type != trax.Region.MASK:
        raise ValueError(f"the toolkit sent a {region.type} region: hqtrack takes masks only (a VOTS stack "
                         "with mask ground truth)")
    return MaskRegion(region.array(), region.offset()).to_image_mask(size)


def mask_to_region(mask: np.ndarray):
    """A ``(H, W)`` bool mask as a TraX mask cropped to its set pixels (an empty mask: 0 x 0 at (0, 0))."""
    trax = _trax()
    tight = MaskRegion.from_image_mask(mask)
    return trax.Mask.create(np.ascontiguousarray(tight.mask, dtype=np.uint8), *tight.offset)


def _image_path(request) -> str:
    image = request.image.get("color") if isinstance(request.image, dict) else None
    if image is None:
        raise ValueError(f"the request has no 'color' image (channels: {sorted(request.image or {})})")
    return image.path()


def serve(build: Callable[[], object], describe_error: Callable[[BaseException], str] = str) -> int:
    """Run the TraX loop until the toolkit quits. ``build()`` returns the pipeline (called once, after the first
    ``initialize``). Returns the exit code: 0, or 2 after a bad input / failed start (the reason was sent)."""
    with redirect_stdout(sys.stderr):
        server = open_server()
        pipeline, session = None, None
        while True:
            request = server.wait()
            if request.type == "quit":
                return 0
            try:
                if request.type == "initialize":
                    if pipeline is None:
                        pipeline = build()
                    else:
                        pipeline.tracker.reset()  # a new video, same networks
                    session = VotsSession(pipeline)
                elif session is None:
                    raise ValueError(f"a {request.type!r} request before 'initialize'")
                image = read_frame(_image_path(request))
                new = [region_to_mask(region, image.shape[:2]) for region, _ in (request.objects or [])]
                masks = session.step(image, new)
                server.status([(mask_to_region(mask), {}) for mask in masks])
            except (ValueError, KeyError, OSError) as err:
                reason = f"{PROG}: error: {describe_error(err)}"
                print(reason, file=sys.stderr)
                server.quit(reason=reason)
                return 2
            except KeyboardInterrupt:  # SIGTERM / Ctrl-C: the connection is going away
                raise
            except BaseException as err:  # a bug: the toolkit gets the reason, the log gets the traceback
                server.quit(reason=f"{PROG}: {type(err).__name__}: {err}")
                raise
