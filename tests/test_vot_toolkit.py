"""hqtrack inside the official VOT toolkit (issue 36): ``hqtrack vot workspace`` and the TraX tracker ``hqtrack vot run``.

End to end: a small local VOTS dataset (generated sequences with several objects, an object absent for three frames
that comes back, an object that starts mid-sequence, plus a short real DAVIS-2016 clip when ../shared/data is here)
is run by the real toolkit (``vot evaluate``, ``vot analysis``, vot-toolkit 0.9.0 over vot-trax) against the shipped
teaching model; the toolkit's measures must equal ``hqtrack eval vots`` on the result files it wrote, and its masks
those of the ``hqtrack track`` loop in this process. Cheap unit tests cover the object bookkeeping and the workspace
writer (refusals, trackers.ini as the toolkit reads it).
"""

from __future__ import annotations

import configparser
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hqtrack_core.cli import main
from hqtrack_core.vot.session import VotsSession

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = REPO / "data" / "checkpoints" / "hqtrack_teach.safetensors"
OPTIONS = ["--short-edge", "64", "--no-flip"]  # small and quick: the test is about the integration
TOL = 1e-9
MEASURES = ("Q", "A", "R", "NRE", "DRE", "ADQ")


# ------------------------------------------------------------------------------------------- object bookkeeping
class _EchoPipeline:
    """Stands in for HQTrackPipeline: a mask step returns the mask's given objects over the last labels, a plain
    step repeats the last labels. Records the calls."""

    def __init__(self):
        self.calls, self.labels = [], None

    def step(self, image, mask=None, objects=None):
        self.calls.append((None if mask is None else mask.copy(), objects))
        if mask is not None:
            keep = np.isin(mask, objects)
            base = np.zeros(mask.shape, np.uint8) if self.labels is None else self.labels
            self.labels = np.where(keep, mask, base).astype(np.uint8)
        return type("Out", (), {"labels": self.labels})()


def test_vots_session_numbers_objects_in_arrival_order():
    image = np.zeros((6, 8, 3), np.uint8)
    a, b, empty, late = (np.zeros((6, 8), bool) for _ in range(4))
    a[0:2, 0:2] = True
    b[1:4, 1:4] = True  # overlaps a: the later object (b) is in front
    late[5, 5:8] = True
    pipeline = _EchoPipeline()
    session = VotsSession(pipeline)
    masks = session.step(image, [a, b, empty])
    assert len(masks) == 3 and pipeline.calls[0][1] == [1, 2]  # the empty object is never given to the tracker
    assert masks[0].sum() == 3 and masks[1].sum() == 9 and not masks[2].any()
    masks = session.step(image)  # a plain frame: one mask per object so far
    assert len(masks) == 3 and pipeline.calls[-1] == (None, None)
    masks = session.step(image, [late])  # an object starting mid-video is id 4, given alone
    assert len(masks) == 4 and pipeline.calls[-1][1] == [4] and (masks[3] == late).all()
    assert masks[1].sum() == 9  # the others keep being tracked


def test_vots_session_waits_for_a_first_non_empty_object():
    image = np.zeros((4, 4, 3), np.uint8)
    pipeline = _EchoPipeline()
    session = VotsSession(pipeline)
    masks = session.step(image, [np.zeros((4, 4), bool)])
    assert not pipeline.calls and len(masks) == 1 and not masks[0].any()
    assert not session.step(image)[0].any() and not pipeline.calls
    with pytest.raises(ValueError, match="does not match the frame"):
        session.step(image, [np.ones((3, 4), bool)])


# ----------------------------------------------------------------------------------------------- workspace writer
def _vot_or_skip():
    pytest.importorskip("vot", reason="vot-toolkit (dev extra) not installed")
    try:
        import trax  # noqa: F401
    except (ImportError, OSError) as err:
        pytest.skip(f"vot-trax not usable: {err}")


def test_vot_workspace_refuses_a_non_empty_folder_and_bad_options(tmp_path, capsys):
    _vot_or_skip()
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    cases = [
        (["vot", "workspace", str(taken)], "is not empty (it holds notes.txt)"),
        (["vot", "workspace", str(taken / "notes.txt")], "is not a folder"),
        (["vot", "workspace", str(tmp_path / "a"), "--stack", "vot2020/shortterm"], "not a multi-object (VOTS) stack"),
        (["vot", "workspace", str(tmp_path / "b"), "--stack", "banana"], "not a stack of vot-toolkit"),
        (["vot", "workspace", str(tmp_path / "c"), "--entry", "banana"], "not a preset"),
        (["vot", "workspace", str(tmp_path / "d"), "--entry", "x=--short-edge 8"], "--entry x=--short-edge 8: --short-edge 8"),
        (["vot", "workspace", str(tmp_path / "e"), "--entry", "x=--banana"], "unrecognized arguments: --banana"),
        (["vot", "workspace", str(tmp_path / "f"), "--entry", "vmos", "--entry", "vmos"], "tracker names repeat"),
        (["vot", "workspace", str(tmp_path / "g"), "--sequences", str(tmp_path / "nowhere")], "no such folder"),
        (["vot", "workspace", str(tmp_path / "h"), "--checkpoint", str(taken / "notes.txt")], "notes.txt"),
        (["vot", "workspace", str(tmp_path / "i"), "--refiner", "hqsam"], "needs --refiner-checkpoint"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("hqtrack vot: error:") and message in err and err.count("\n") == 1, (argv, err)
    assert sorted(p.name for p in taken.iterdir()) == ["notes.txt"]  # nothing written anywhere
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_vot_workspace_trackers_ini_as_the_toolkit_reads_it(tmp_path, capsys, monkeypatch):
    _vot_or_skip()
    from vot.tracker import Registry

    monkeypatch.chdir(tmp_path)
    link = Path("weights.safetensors")  # a relative path: must become absolute (trackers run in a temp folder)
    link.symlink_to(CHECKPOINT)
    ws = tmp_path / "ws"
    ws.mkdir()  # an empty folder is fine
    assert main(["vot", "workspace", str(ws), "--checkpoint", str(link), "--short-edge", "64", "--entry", "vmos",
                 "--entry", "big=--short-edge 240 --flip", "--timeout", "123"]) == 0
    assert sorted(p.name for p in ws.iterdir()) == ["config.yaml", "trackers.ini"]
    import yaml

    assert yaml.safe_load((ws / "config.yaml").read_text()) == {
        "registry": ["./trackers.ini"], "stack": "vots2023", "sequences": "sequences"}
    registry = Registry([str(ws)], root=str(ws))
    assert list(registry.identifiers()) == ["hqtrack", "hqtrack_big", "hqtrack_vmos"]
    base = [sys.executable, "-m", "hqtrack_core.cli", "vot", "run", f"--checkpoint={os.path.abspath(link)}"]
    commands = {name: shlex.split(registry[name].describe()["command"]) for name in registry.identifiers()}
    assert commands["hqtrack"] == base + ["--short-edge=64"]
    assert commands["hqtrack_vmos"] == base + ["--refiner=none", "--short-edge=64"]
    assert commands["hqtrack_big"] == base + ["--short-edge=240", "--flip"]
    ini = configparser.ConfigParser()
    ini.read(ws / "trackers.ini")
    for name in registry.identifiers():
        assert registry[name].protocol == "trax" and ini[name]["timeout"] == "123"
    # the options written are accepted by `hqtrack vot run` itself
    from hqtrack_core.cli import build_parser, handler_of

    for command in commands.values():
        args = build_parser().parse_args(command[3:])
        assert handler_of(args).__name__ == "run_tracker"

    # --force replaces the workspace files (with a warning each) and keeps the rest
    (ws / "results" / "hqtrack").mkdir(parents=True)
    capsys.readouterr()
    assert main(["vot", "workspace", str(ws), "--force"]) == 0
    err = capsys.readouterr().err
    assert "replaced" in err and "config.yaml" in err and "trackers.ini" in err and "holds earlier results" in err
    assert (ws / "results" / "hqtrack").is_dir()
    assert shlex.split(Registry([str(ws)], root=str(ws))["hqtrack"].describe()["command"])[5:] == []


def test_vot_workspace_with_local_sequences(tmp_path):
    _vot_or_skip()
    import yaml

    from _vots_dataset import build_vots_dataset

    seqs = build_vots_dataset(tmp_path / "seqs")
    (seqs / "list.txt").unlink()  # without a list.txt: every folder with a 'sequence' file
    assert main(["vot", "workspace", str(tmp_path / "ws"), "--sequences", str(seqs), "--stack", "vots2025/main"]) == 0
    listed = (tmp_path / "ws" / "sequences" / "list.txt").read_text().split()
    assert listed == [str((seqs / n).resolve()) for n in ("late", "occluded")]
    stack = yaml.safe_load((tmp_path / "ws" / "stack.yaml").read_text())
    assert "dataset" not in stack  # nothing to download
    experiment = stack["experiments"]["baseline"]
    assert experiment["multiobject"] is True
    assert [a["type"] for a in experiment["analyses"]] == [
        "average_accuracy", "average_success_plot", "longterm_ar", "average_quality_auxiliary"]
    assert sorted(p.name for p in seqs.iterdir()) == ["late", "occluded"]  # the local folder is never written
    from vot.workspace import Workspace

    workspace = Workspace.load(str(tmp_path / "ws"))  # the toolkit's own loader: stack and sequences resolve
    assert [s.name for s in workspace.dataset] == ["late", "occluded"]


# ------------------------------------------------------------------------------------------------- end to end
def _vot(args: list[str], cwd: Path) -> str:
    """The toolkit's command line (``vot ...``, its own ``main``), minus its GitHub version check (offline runs)."""
    code = ("import sys, vot.utilities.cli as cli; cli.check_updates = lambda: (False, None); "
            "sys.argv[0] = 'vot'; cli.main()")
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def _toolkit_measures(analysis: dict) -> dict:
    """Q, A, R, NRE, DRE, ADQ and the quality plot from the JSON ``vot analysis`` wrote (one tracker)."""
    experiment = analysis["results"]["baseline"]
    out = {}
    for spec, result in zip(experiment["parameters"]["analyses"], experiment["results"]):
        value = result[0]  # (the first tracker's outputs)
        kind = spec["type"].rsplit(".", 1)[-1]
        if kind == "AverageAccuracy":
            out["Q"] = value[0]
        elif kind == "AverageSuccessPlot":
            out["plot"] = np.array([y for _, y in value[0]])
        elif kind == "AccuracyRobustness":
            out["A"], out["R"] = value[0], value[1]
        elif kind == "AverageQualityAuxiliary":
            out["NRE"], out["DRE"], out["ADQ"] = value[:3]
    return out


@pytest.fixture(scope="module")
def toolkit_run(tmp_path_factory):
    _vot_or_skip()
    if not CHECKPOINT.is_file():
        pytest.skip(f"no shipped checkpoint {CHECKPOINT}")
    from hqtrack_core.paths import data_root

    from _vots_dataset import build_vots_dataset

    root = tmp_path_factory.mktemp("vot_toolkit")
    davis = data_root()
    seqs = build_vots_dataset(root / "seqs", frames=8, davis_root=davis)
    ws = root / "ws"
    assert main(["vot", "workspace", str(ws), "--sequences", str(seqs), "--checkpoint", str(CHECKPOINT), *OPTIONS]) == 0
    evaluate = _vot(["evaluate", "--workspace", str(ws), "hqtrack"], root)
    analysis = _vot(["analysis", "--workspace", str(ws), "hqtrack", "--name", "test"], root)
    return {"root": root, "seqs": seqs, "ws": ws, "results": ws / "results" / "hqtrack" / "baseline",
            "evaluate": evaluate, "analysis": json.loads((ws / "analysis" / "test.json").read_text()),
            "davis": davis is not None}


@pytest.mark.slow
def test_vot_toolkit_measures_equal_hqtrack_eval_vots(toolkit_run, capsys):
    from hqtrack_core.evaluation.vots import evaluate_vots

    run = toolkit_run
    assert "Evaluation concluded successfuly" in run["evaluate"], run["evaluate"]
    names = ["occluded", "late"] + (["davis-bear"] if run["davis"] else [])
    assert sorted(p.name for p in run["results"].iterdir()) == sorted(names)
    toolkit = _toolkit_measures(run["analysis"])
    out_json = run["root"] / "ours.json"
    assert main(["eval", "vots", "--sequences", str(run["seqs"]), "--results", str(run["results"]),
                 "--json", str(out_json)]) == 0
    table = capsys.readouterr().out
    ours = json.loads(out_json.read_text())
    plot = evaluate_vots(run["seqs"], run["results"]).plot
    with capsys.disabled():
        print("\nvot analysis (vot-toolkit 0.9.0) on the test dataset: "
              + ", ".join(f"{k} {toolkit[k]!r}" for k in MEASURES))
        print("hqtrack eval vots on the same result files:\n" + table)
    for key in MEASURES:
        if toolkit[key] is None or ours[key] is None:
            assert toolkit[key] is None and ours[key] is None, key
        else:
            assert abs(toolkit[key] - ours[key]) <= TOL, (key, toolkit[key], ours[key])
    assert np.abs(toolkit["plot"] - plot).max() <= TOL
    assert 0.2 < ours["Q"] < 1.0  # a real tracking run, not empty masks (empty masks score 0 on every object)
    # the absence and the late start were exercised: the toolkit wrote "unknown" before object 3 of "late" starts
    from hqtrack_core.data.vot_format import Special, read_trajectory

    late3 = read_trajectory(run["results"] / "late" / "late_3_001.bin")
    assert all(isinstance(r, Special) for r in late3[: 8 // 3]) and not isinstance(late3[-1], Special)


@pytest.mark.slow
def test_vot_toolkit_masks_equal_the_hqtrack_track_loop(toolkit_run):
    """The masks that went through TraX (and the toolkit's files) equal those of the ``hqtrack track`` loop run here
    with the same options: same building code, objects and offsets transported exactly."""
    from hqtrack_core.cli import build_parser
    from hqtrack_core.commands.tracker_options import build_pipeline, check_tracker_options, tracker_config
    from hqtrack_core.data.frames import read_frame
    from hqtrack_core.data.vot_format import MaskRegion, read_trajectory
    from hqtrack_core.data.vots import read_vots_sequence
    from hqtrack_core.api import track_video

    sequence = read_vots_sequence(toolkit_run["seqs"] / "late")
    args = build_parser().parse_args(["vot", "run", "--checkpoint", str(CHECKPOINT), *OPTIONS])
    check_tracker_options(args)
    pipeline = build_pipeline(tracker_config(args), "test")
    frames = [(f"{i:05d}", read_frame(p)) for i, p in enumerate(sequence.frames)]
    starts = {}
    for obj in sequence.objects:  # each object's first annotated frame: its prompt
        first = next(i for i, r in enumerate(sequence.objects[obj]) if isinstance(r, MaskRegion))
        starts.setdefault(first, np.zeros((sequence.height, sequence.width), np.uint8))
        starts[first][sequence.object_mask(obj, first)] = int(obj)
    prompts = {f"{i:05d}": m for i, m in starts.items()}
    ours = [f.labels for f in track_video(pipeline, frames, prompts)]
    agree, total = 0, 0
    for obj in sequence.objects:
        trajectory = read_trajectory(toolkit_run["results"] / "late" / f"late_{obj}_001.bin")
        for t, region in enumerate(trajectory):
            if isinstance(region, MaskRegion) and t > 0:
                theirs = region.to_image_mask((sequence.height, sequence.width))
                agree += int(((ours[t] == int(obj)) == theirs).sum())
                total += theirs.size
    assert total > 0
    assert agree / total >= 0.999, agree / total  # (the same code on the same CPU: equal up to thread rounding)


@pytest.mark.slow
def test_vot_toolkit_reports_a_tracker_that_cannot_start(toolkit_run, tmp_path):
    """A checkpoint damaged after the workspace was written: the toolkit prints our one-line reason."""
    weights = tmp_path / "weights.safetensors"
    weights.symlink_to(CHECKPOINT)
    ws = tmp_path / "ws"
    assert main(["vot", "workspace", str(ws), "--sequences", str(toolkit_run["seqs"]), "--checkpoint", str(weights),
                 *OPTIONS]) == 0
    weights.unlink()
    weights.write_bytes(CHECKPOINT.read_bytes()[:4096])  # a truncated copy
    output = _vot(["evaluate", "--workspace", str(ws), "hqtrack"], tmp_path)
    assert "Server terminated the session: hqtrack vot run: error: checkpoint" in output, output
    assert "truncated" in output, output
    assert not list((ws / "results" / "hqtrack").rglob("*.bin")) if (ws / "results").exists() else True


def test_vot_run_reports_a_usage_error_through_trax(tmp_path):
    """``hqtrack vot run`` with an option it does not know, started as the toolkit starts it: the TraX client gets
    the one-line reason as the end of the session (not just a dead process)."""
    _vot_or_skip()
    import cv2
    from trax import TraxException
    from trax.client import Client
    from trax.image import FileImage
    from trax.region import Mask as TraxMask

    frame = tmp_path / "00000001.jpg"
    cv2.imwrite(str(frame), np.zeros((16, 16, 3), np.uint8))
    env = dict(os.environ, TRAX="1", PYTHONPATH=str(REPO))
    process = subprocess.Popen([sys.executable, "-m", "hqtrack_core.cli", "vot", "run", "--banana"], cwd=tmp_path,
                               env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log = []
    try:
        client = Client(stream=(process.stdin.fileno(), process.stdout.fileno()), log=log.append)
        assert client.get("multiobject") is True
        with pytest.raises(TraxException, match="hqtrack vot run: error: unrecognized arguments: --banana"):
            client.initialize({"color": FileImage.create(str(frame))}, [(TraxMask.create(np.ones((4, 4), np.uint8)), {})], {})
        assert process.wait(timeout=30) == 2
    finally:
        if process.poll() is None:
            process.kill()
        process.stdin.close()
        process.stdout.close()
