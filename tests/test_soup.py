"""Weight averaging (``hqtrack average`` / ``average_checkpoints``): the output is the element-wise mean and
loads as a VMOS; inputs that cannot be averaged are refused before anything is written."""

from __future__ import annotations

import pytest
import torch

from hqtrack_core.cli import main
from hqtrack_core.model.card import ModelCard, read_model_card
from hqtrack_core.model.checkpoint import load_vmos, save_vmos
from hqtrack_core.model.soup import average_checkpoints, read_averaged_from
from hqtrack_core.model.build import vmos_from_preset


def _save(path, seed, preset="deaot_t", half=False, card=None):
    torch.manual_seed(seed)
    model = vmos_from_preset(preset)
    for p in model.parameters():  # make every weight differ between seeds, biases and norms included
        p.data.add_(torch.randn_like(p) * 0.1)
    if half:
        model = model.half()
    return save_vmos(model, path, preset=preset, card=card)


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    folder = tmp_path_factory.mktemp("soup")
    card = ModelCard(name="deaot_t", preferred_memory="paper", notes="first")
    return [_save(folder / f"m{i}.safetensors", i, card=card if i == 0 else None) for i in range(3)]


def test_average_is_the_mean_and_loads(three, tmp_path):
    out = average_checkpoints(three, tmp_path / "soup.safetensors")
    states = [load_vmos(p).state_dict() for p in three]
    soup = load_vmos(out).state_dict()
    for key, value in soup.items():
        if value.is_floating_point():
            torch.testing.assert_close(value, sum(s[key] for s in states) / 3, rtol=1e-6, atol=1e-6)
        else:
            assert torch.equal(value, states[0][key])
    # the mean differs from every input, so a copy of one input would fail the check above
    key = next(k for k, v in soup.items() if v.is_floating_point() and v.numel() > 10)
    assert all(not torch.allclose(soup[key], s[key]) for s in states)
    assert read_model_card(out) == read_model_card(three[0])
    assert [entry["file"] for entry in read_averaged_from(out)] == [str(p) for p in three]
    assert read_averaged_from(three[0]) is None


def test_average_of_a_checkpoint_and_its_copy_is_that_checkpoint(three, tmp_path):
    copy = tmp_path / "copy.safetensors"
    copy.write_bytes(three[0].read_bytes())
    out = average_checkpoints([three[0], copy], tmp_path / "same.safetensors")
    a, b = load_vmos(three[0]).state_dict(), load_vmos(out).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_float16_inputs_stay_float16(tmp_path):
    paths = [_save(tmp_path / f"h{i}.safetensors", i, half=True) for i in range(2)]
    out = average_checkpoints(paths, tmp_path / "h.safetensors")
    from safetensors.torch import load_file

    assert {v.dtype for v in load_file(str(out)).values() if v.is_floating_point()} == {torch.float16}
    torch.testing.assert_close(load_vmos(out).state_dict()["patch_wise_id_bank.weight"],
                               (load_vmos(paths[0]).state_dict()["patch_wise_id_bank.weight"]
                                + load_vmos(paths[1]).state_dict()["patch_wise_id_bank.weight"]) / 2,
                               rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("case, message", [
    ("one", "at least two"),
    ("twice", "given twice"),
    ("output_is_input", "is one of the inputs"),
    ("exists", "exists"),
    ("other_config", "another VMOS config"),
])
def test_bad_inputs_are_refused_and_nothing_is_written(three, tmp_path, case, message):
    out = tmp_path / "out.safetensors"
    inputs = list(three[:2])
    if case == "one":
        inputs = inputs[:1]
    elif case == "twice":
        inputs = [three[0], three[0]]
    elif case == "output_is_input":
        out = three[1]
    elif case == "exists":
        out.write_bytes(b"keep me")
    elif case == "other_config":
        inputs.append(_save(tmp_path / "other.safetensors", 9, preset="deaot_s"))
    before = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(ValueError, match=message):
        average_checkpoints(inputs, out)
    after = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before  # nothing written, nothing overwritten, no staging file left
    if case == "output_is_input":
        assert load_vmos(three[1]) is not None


def test_cli_writes_the_average_with_new_notes_and_errors_in_one_line(three, tmp_path, capsys):
    out = tmp_path / "cli.safetensors"
    assert main(["average", *map(str, three), "--out", str(out), "--notes", "a soup"]) == 0
    assert read_model_card(out).notes == "a soup"
    assert read_model_card(out).preferred_memory == "paper"  # the rest of the first input's card
    assert main(["average", str(three[0]), str(three[1]), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"hqtrack average: error: {out} exists; choose a new file or pass overwrite=True (--force)"]
    missing, never = tmp_path / "missing.safetensors", tmp_path / "x.safetensors"
    assert main(["average", str(three[0]), str(missing), "--out", str(never)]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert not never.exists()
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(b"junk")  # the first input is read first (its card): still one line, nothing written
    assert main(["average", str(damaged), str(three[0]), "--out", str(never)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "damaged.safetensors is truncated" in err[0]
    assert not never.exists()
