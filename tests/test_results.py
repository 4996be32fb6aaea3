import json
from pathlib import Path

import pytest

from kgzsl.errors import KGZSLError
from kgzsl.results import collect_meta, format_table, run_dir_for, staged_run_dir


def test_run_dir_layout():
    assert run_dir_for("runs", "demo", 3) == Path("runs/demo/seed-3")


def test_staged_run_dir_is_atomic_on_error(tmp_path: Path):
    target = tmp_path / "exp" / "seed-0"
    with pytest.raises(RuntimeError):
        with staged_run_dir(target) as tmp:
            (tmp / "metrics.json").write_text("{")
            raise RuntimeError("interrupted")
    assert not target.exists()
    assert list((tmp_path / "exp").iterdir()) == []  # no half-written leftovers


def test_existing_run_is_not_overwritten_silently(tmp_path: Path):
    target = tmp_path / "exp" / "seed-0"
    with staged_run_dir(target) as tmp:
        (tmp / "metrics.json").write_text('{"zsl/top1": 0.5}')
    with pytest.raises(KGZSLError, match="already exists: pass --overwrite"):
        with staged_run_dir(target):
            pass
    assert json.loads((target / "metrics.json").read_text()) == {"zsl/top1": 0.5}
    with staged_run_dir(target, overwrite=True) as tmp:
        (tmp / "metrics.json").write_text('{"zsl/top1": 0.7}')
    assert json.loads((target / "metrics.json").read_text()) == {"zsl/top1": 0.7}
    assert sorted(p.name for p in target.parent.iterdir()) == ["seed-0"]


def test_meta_hashes_inputs(tmp_path: Path):
    f = tmp_path / "input.txt"
    f.write_text("abc")
    meta = collect_meta([f, f], device="cpu")
    assert meta["inputs_sha256"] == {
        str(f.resolve()): "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    }
    for key in ("kgzsl_version", "git_revision", "torch_version", "device", "python"):
        assert key in meta


def test_table_formats_percentages_and_title():
    table = format_table(
        [{"method": "m", "semantics": "s", "zsl/top1": 0.5, "gzsl/h": 0.25}], "Results — synthetic features"
    )
    assert "**Results — synthetic features**" in table
    assert "| m | s | 50.00 | – | – | 25.00 |" in table


def test_atomic_writes_have_ordinary_permissions(tmp_path: Path):
    import os

    from kgzsl.utils import atomic_write_text

    atomic_write_text(tmp_path / "a.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o666 & ~umask
