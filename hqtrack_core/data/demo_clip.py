"""The shipped demo clip: DAVIS-2016 ``blackswan`` at 240p, made from the shared data and checked by checksum.

``python -m hqtrack_core.data.demo_clip --make`` rebuilds ``data/demo/davis2016`` from ``$HQTRACK_DATA`` (or
``../shared/data``): every frame of the 480p sequence downscaled to a 240-pixel short edge (``INTER_AREA``, JPEG
quality 90), every ground-truth mask with nearest-neighbour (grey 0/255 PNGs, the DAVIS-2016 layout), in the
DAVIS folder layout so that :func:`hqtrack_core.data.datasets.davis_videos` reads it, plus ``SHA256SUMS``.
``python -m hqtrack_core.data.demo_clip --check`` verifies the shipped files against ``SHA256SUMS``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from ..atomic import write_bytes_atomic
from ..paths import artefacts_dir, data_root
from .datasets import davis_videos
from .frames import resize_frame

DEMO_SEQUENCE = "blackswan"
DEMO_RESOLUTION = "240p"
DEMO_SHORT_EDGE = 240
JPEG_QUALITY = 85
CHECKSUMS = "SHA256SUMS"
SIZE_LIMIT = 2 * 1024 * 1024  # bytes, all files of the clip


def demo_dir() -> Path:
    """``data/demo`` of the checkout (README, SHA256SUMS and the DAVIS-layout ``davis2016`` folder)."""
    return artefacts_dir() / "demo"


def demo_davis_root() -> Path:
    """The shipped clip as a DAVIS root: ``JPEGImages/240p/blackswan``, ``Annotations/240p/blackswan``."""
    return demo_dir() / "davis2016"


def clip_files(root: str | os.PathLike | None = None) -> list[Path]:
    """Every file of the clip (frames, masks, split list), sorted, relative to ``demo_dir()``-like ``root``."""
    root = Path(root) if root is not None else demo_dir()
    base = root / "davis2016"
    return sorted(p.relative_to(root) for p in base.rglob("*") if p.is_file())


def sha256(path: str | os.PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_checksums(root: str | os.PathLike | None = None) -> dict[str, str]:
    """``{relative path: sha256}`` from ``SHA256SUMS`` (``sha256sum`` format)."""
    root = Path(root) if root is not None else demo_dir()
    lines = (root / CHECKSUMS).read_text().splitlines()
    return {name.strip(): digest for digest, name in (line.split(maxsplit=1) for line in lines if line.strip())}


def check_clip(root: str | os.PathLike | None = None) -> list[str]:
    """Problems with the shipped clip (empty list: every file matches ``SHA256SUMS`` and none is extra)."""
    root = Path(root) if root is not None else demo_dir()
    expected = read_checksums(root)
    present = {str(p) for p in clip_files(root)}
    problems = [f"missing: {name}" for name in sorted(set(expected) - present)]
    problems += [f"not in {CHECKSUMS}: {name}" for name in sorted(present - set(expected))]
    problems += [f"checksum differs: {name}" for name in sorted(set(expected) & present)
                 if sha256(root / name) != expected[name]]
    return problems


def make_clip(source: str | os.PathLike, out: str | os.PathLike, sequence: str = DEMO_SEQUENCE) -> list[Path]:
    """Write the clip of ``sequence`` from the shared data root ``source`` into ``out`` (replaced atomically:
    ``out/davis2016`` and ``out/SHA256SUMS``). Returns the written files, relative to ``out``."""
    davis = Path(source) / "davis2016"
    videos = {v.name: v for v in davis_videos(davis, "480p", split="dev")}
    if sequence not in videos:
        raise KeyError(f"sequence {sequence!r} is not a dev sequence under {davis}; known: {sorted(videos)}")
    video = videos[sequence]
    out = Path(out)
    with _replacing_dir(out / "davis2016") as stage:
        frames = stage / "JPEGImages" / DEMO_RESOLUTION / sequence
        masks = stage / "Annotations" / DEMO_RESOLUTION / sequence
        (stage / "ImageSets").mkdir(parents=True)
        frames.mkdir(parents=True)
        masks.mkdir(parents=True)
        (stage / "ImageSets" / "demo.txt").write_text(f"{sequence}\n")
        for stem, image in video.frames():
            small = resize_frame(image, short_edge=DEMO_SHORT_EDGE)
            ok, jpg = cv2.imencode(".jpg", small[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            mask = resize_frame(video.mask(stem), short_edge=DEMO_SHORT_EDGE, nearest=True)
            ok2, png = cv2.imencode(".png", (mask > 0).astype(np.uint8) * 255)
            if not (ok and ok2):  # pragma: no cover - OpenCV fails only on invalid input
                raise ValueError(f"cannot encode frame {stem}")
            (frames / f"{stem}.jpg").write_bytes(jpg.tobytes())
            (masks / f"{stem}.png").write_bytes(png.tobytes())
    files = clip_files(out)
    sums = "".join(f"{sha256(out / name)}  {name}\n" for name in files)
    write_bytes_atomic(out / CHECKSUMS, sums.encode())
    return files


@contextmanager
def _replacing_dir(dest: Path) -> Iterator[Path]:
    """A staging folder that replaces the whole folder ``dest`` (nested files included) when the block succeeds;
    on an error ``dest`` is left as it was."""
    stage, old = dest.with_name(f".{dest.name}.new"), dest.with_name(f".{dest.name}.old")
    for folder in (stage, old):
        shutil.rmtree(folder, ignore_errors=True)
    stage.mkdir(parents=True)
    try:
        yield stage
        if dest.exists():
            os.replace(dest, old)
        os.replace(stage, dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hqtrack_core.data.demo_clip", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--make", action="store_true", help="rebuild the clip from the shared data")
    action.add_argument("--check", action="store_true", help="verify the shipped clip against SHA256SUMS")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: data/demo)")
    args = parser.parse_args(argv)
    out = args.out or demo_dir()
    if args.check:
        problems = check_clip(out)
        for line in problems:
            print(line, file=sys.stderr)
        print(f"{out}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
        return 1 if problems else 0
    source = data_root()
    if source is None:
        print("demo_clip: error: no shared data (set HQTRACK_DATA or place ../shared/data beside the repo)",
              file=sys.stderr)
        return 2
    files = make_clip(source, out)
    total = sum((out / f).stat().st_size for f in files)
    print(f"{out}: {len(files)} files, {total / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
