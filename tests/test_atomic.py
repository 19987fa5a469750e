"""The one JSON file writer (hqtrack_core.atomic.write_json_atomic): the bytes json.dumps gives plus a newline,
and nothing half-written: a value JSON cannot hold leaves the old file as it was and no temporary file."""

from __future__ import annotations

import json

import pytest

from hqtrack_core.atomic import write_json_atomic


def test_write_json_atomic_writes_what_json_dumps_gives(tmp_path):
    data = {"b": [1, 2.5, None], "a": "é"}
    path = write_json_atomic(tmp_path / "sub" / "x.json", data)
    assert path.read_bytes() == (json.dumps(data, indent=2) + "\n").encode("utf-8")
    write_json_atomic(path, data, indent=None, sort_keys=True, default=str)
    assert path.read_text() == '{"a": "\\u00e9", "b": [1, 2.5, null]}\n'
    assert json.loads(path.read_text()) == data


def test_write_json_atomic_leaves_the_old_file_on_failure(tmp_path):
    path = write_json_atomic(tmp_path / "x.json", {"ok": 1})
    with pytest.raises(TypeError, match="not JSON serializable"):
        write_json_atomic(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"ok": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]
