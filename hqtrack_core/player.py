"""A frame player that needs no kernel: the frames are embedded once (JPEG, base64) in one HTML output.

The frames sit side by side in a horizontally scrolling strip one frame wide, so the output scrubs with or without
JavaScript:

- where scripts run (a trusted notebook in JupyterLab / Notebook, nbconvert HTML opened offline, VS Code), a small
  inline script adds a slider, a play/pause button and the frame's caption, and moves the strip;
- where scripts are stripped (an untrusted notebook in JupyterLab), the strip itself scrolls sideways, one frame per
  step (JupyterLab's sanitizer keeps ``overflow-x`` and ``data:`` images), with each frame's caption as its tooltip;
- renderers that drop styles (GitHub) show the frames as a row of images.

:func:`frame_player` returns an ``IPython.display.HTML`` (the last expression of a cell); :func:`player_html` the
fragment; :func:`save_player` a stand-alone HTML page. The live ``ipywidgets`` slider
(:func:`hqtrack_core.viz.image_slider`) stays for kernel-side interaction.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from .atomic import write_bytes_atomic

__all__ = ["frame_player", "player_html", "save_player"]

_SCRIPT = """
(function () {
  var root = document.getElementById(%(id)s);
  if (!root || root.getAttribute("data-live")) return;
  root.setAttribute("data-live", "1");
  var strip = root.querySelector("[data-role=strip]"), hint = root.querySelector("[data-role=hint]");
  var captions = %(captions)s, step = %(width)d, n = captions.length, fps = %(fps)s, timer = null;
  var bar = document.createElement("div");
  bar.style.cssText = "display:flex;align-items:center;gap:8px;margin-top:4px;font:13px sans-serif";
  var play = document.createElement("button"), slider = document.createElement("input");
  var label = document.createElement("span");
  play.type = "button"; play.textContent = "\\u25B6"; play.setAttribute("data-role", "play");
  slider.type = "range"; slider.min = 0; slider.max = n - 1; slider.value = 0; slider.step = 1;
  slider.setAttribute("data-role", "slider"); slider.style.flex = "1";
  label.setAttribute("data-role", "caption");
  bar.appendChild(play); bar.appendChild(slider); bar.appendChild(label);
  root.appendChild(bar);
  if (hint) hint.style.display = "none";
  strip.style.overflowX = "hidden";
  function show(i) {
    i = Math.max(0, Math.min(n - 1, i));
    strip.scrollLeft = i * step; slider.value = i;
    root.setAttribute("data-frame", i);
    label.textContent = (i + 1) + "/" + n + (captions[i] ? "  " + captions[i] : "");
  }
  slider.addEventListener("input", function () { show(parseInt(slider.value, 10)); });
  play.addEventListener("click", function () {
    if (timer) { clearInterval(timer); timer = null; play.textContent = "\\u25B6"; return; }
    play.textContent = "\\u23F8";
    if (parseInt(slider.value, 10) >= n - 1) show(0);
    timer = setInterval(function () {
      var i = parseInt(slider.value, 10) + 1;
      show(i);
      if (i >= n - 1) { clearInterval(timer); timer = null; play.textContent = "\\u25B6"; }
    }, 1000 / fps);
  });
  root.tabIndex = 0;
  root.addEventListener("keydown", function (e) {
    if (e.key === "ArrowRight") show(parseInt(slider.value, 10) + 1);
    if (e.key === "ArrowLeft") show(parseInt(slider.value, 10) - 1);
  });
  show(0);
})();
"""


def _jpeg_base64(image: np.ndarray, width: int, quality: int) -> str:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"frames must be (H, W, 3) uint8 RGB, got shape {image.shape} dtype {image.dtype}")
    if image.shape[1] != width:
        height = max(1, round(image.shape[0] * width / image.shape[1]))
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    ok, buffer = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV fails only on invalid input, checked above
        raise ValueError("JPEG encoding failed")
    return base64.b64encode(buffer.tobytes()).decode("ascii")


def player_html(images: Sequence[np.ndarray], captions: Sequence[str] | None = None, fps: float = 8.0,
                width: int | None = None, title: str = "", quality: int = 85) -> str:
    """The player as an HTML fragment (a ``<div>`` and its inline ``<script>``).

    Args:
        images: the frames, ``(H, W, 3) uint8`` RGB, all the same size (e.g. ``viz.overlay_labels`` outputs).
        captions: one line per frame (shown beside the slider, and as each frame's tooltip).
        fps: play speed.
        width: shown width in pixels (the frames are downscaled to it when larger, which also shrinks the
            notebook); default: the frames' width, at most 640.
        title: a line above the frames.
        quality: JPEG quality of the embedded frames.
    """
    if len(images) == 0:
        raise ValueError("frame_player needs at least one frame")
    if captions is not None and len(captions) != len(images):
        raise ValueError(f"{len(captions)} captions for {len(images)} frames")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    first = np.asarray(images[0])
    if first.ndim != 3:
        raise ValueError(f"frames must be (H, W, 3) uint8 RGB, got shape {first.shape}")
    shapes = {np.asarray(image).shape for image in images}
    if len(shapes) > 1:
        raise ValueError(f"all frames must have one size, got {sorted(shapes)}")
    width = int(width or min(first.shape[1], 640))
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    height = max(1, round(first.shape[0] * width / first.shape[1]))
    captions = [str(c) for c in captions] if captions is not None else [""] * len(images)
    tiles = "".join(
        f'<img src="data:image/jpeg;base64,{_jpeg_base64(image, width, quality)}" width="{width}" '
        f'height="{height}" alt="frame {i + 1}" title="{html.escape(caption or f"frame {i + 1}")}" '
        f'style="flex:none;display:block;width:{width}px;height:{height}px;scroll-snap-align:start">'
        for i, (image, caption) in enumerate(zip(images, captions)))
    # the id is a digest of the content: re-running a cell gives the same output (stable diffs, nbval-checkable)
    digest = hashlib.sha1(json.dumps([tiles, captions, title, fps]).encode()).hexdigest()[:12]
    player_id = f"hqtrack-player-{digest}"
    heading = f'<div style="font:bold 13px sans-serif;margin-bottom:4px">{html.escape(title)}</div>' if title else ""
    script = _SCRIPT % {"id": json.dumps(player_id), "captions": json.dumps(captions), "width": width,
                        "fps": json.dumps(float(fps))}
    return (
        f'<div id="{player_id}" class="hqtrack-player" data-frames="{len(images)}" '
        f'style="display:inline-block;max-width:100%">{heading}'
        f'<div data-role="strip" style="display:flex;width:{width}px;overflow-x:auto;'
        f'scroll-snap-type:x mandatory">{tiles}</div>'
        f'<div data-role="hint" style="font:12px sans-serif;color:#555">{len(images)} frames: scroll sideways to '
        f'move through them</div></div>'
        f"<script>{script}</script>"
    )


def frame_player(images: Sequence[np.ndarray], captions: Sequence[str] | None = None, fps: float = 8.0,
                 width: int | None = None, title: str = "", quality: int = 85):
    """An ``IPython.display.HTML`` player over ``images`` (see :func:`player_html` for the arguments)."""
    from IPython.display import HTML

    return HTML(player_html(images, captions, fps=fps, width=width, title=title, quality=quality))


def save_player(path: str | os.PathLike, images: Sequence[np.ndarray], captions: Sequence[str] | None = None,
                fps: float = 8.0, width: int | None = None, title: str = "", quality: int = 85) -> Path:
    """Write the player as a stand-alone HTML page (atomically); it needs no network."""
    body = player_html(images, captions, fps=fps, width=width, title=title, quality=quality)
    page = (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title or "frames")}</title>'
            f"</head><body>{body}</body></html>\n")
    return write_bytes_atomic(path, page.encode("utf-8"))
