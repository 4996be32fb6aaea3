import json
from pathlib import Path

import pytest

from kgzsl.errors import KGZSLError
from kgzsl.results import (
    class_names,
    clean_stale_staging,
    collect_meta,
    format_table,
    plot_run,
    run_dir_for,
    staged_run_dir,
    write_per_class,
)


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


# --------------------------------------------------------------------------- stale staging folders

_STAGE_AND_WAIT = """
import sys, time
from pathlib import Path
from kgzsl.results import staged_run_dir
with staged_run_dir(Path(sys.argv[1])) as tmp:
    for name in ("config.yaml", "metrics.json", "meta.json", "per_class.csv", "results.md"):
        (tmp / name).write_text("x")
    print(tmp, flush=True)
    time.sleep(600)
"""


def _stage_in_subprocess(run_dir: Path):
    """A real process staging ``run_dir``; returns it and its staging folder once it is inside."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", _STAGE_AND_WAIT, str(run_dir)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    assert line, "the staging subprocess ended before staging"
    return proc, Path(line)


def test_staging_left_by_a_killed_run_is_removed_by_the_next_run(tmp_path: Path):
    import os
    import signal

    exp = tmp_path / "exp"
    proc, staging = _stage_in_subprocess(exp / "seed-0")
    assert staging.parent == exp and staging.name.startswith(".seed-0.tmp-") and len(list(staging.iterdir())) == 5
    proc.send_signal(signal.SIGKILL)
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # dead, and not yet reaped: a zombie
    assert staging.is_dir()  # kill -9: the process could not clean up
    with staged_run_dir(exp / "seed-1") as tmp:
        (tmp / "metrics.json").write_text("{}")
    assert sorted(p.name for p in exp.iterdir()) == ["seed-1"]
    proc.wait()
    proc.stdout.close()


def test_staging_of_a_live_run_is_kept(tmp_path: Path):
    exp = tmp_path / "exp"
    proc, staging = _stage_in_subprocess(exp / "seed-0")
    try:
        with staged_run_dir(exp / "seed-1") as tmp:
            (tmp / "metrics.json").write_text("{}")
        assert staging.is_dir() and len(list(staging.iterdir())) == 5
        assert clean_stale_staging(exp) == [] and staging.is_dir()
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert clean_stale_staging(exp) == [staging]
    assert sorted(p.name for p in exp.iterdir()) == ["seed-1"]


def _owned_name(kind: str, host: str, boot: str, pid: int, start: int) -> str:
    return f".seed-0.{kind}-o{host}-{boot}-{pid}-{start}-abcd1234"


def test_staging_owner_checks(tmp_path: Path):
    import os

    from kgzsl import results

    host, boot, me = results._host_key(), results._boot_key(), os.getpid()
    start = results._process_start(me)
    mine = tmp_path / _owned_name("tmp", host, boot, me, start)
    other_host = tmp_path / _owned_name("tmp", "0123abcd" if host != "0123abcd" else "4567abcd", boot, 1, 0)
    not_ours = tmp_path / ".seed-0.tmp-someone-elses"  # not a name kgzsl makes
    stale = []
    if start:  # Linux: a process id reused by a later process is told apart by its start time
        stale.append(tmp_path / _owned_name("tmp", host, boot, me, start + 1))
    if boot != "0":  # made before the last reboot
        stale.append(tmp_path / _owned_name("tmp", host, "ffffffff" if boot != "ffffffff" else "eeeeeeee", me, start))
    for folder in [mine, other_host, not_ours, *stale]:
        folder.mkdir()
        (folder / "metrics.json").write_text("{}")
    assert clean_stale_staging(tmp_path) == sorted(stale)
    assert mine.is_dir() and other_host.is_dir() and not_ours.is_dir()


_HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(600)
"""


def test_a_locked_staging_folder_is_kept_whatever_its_name_says(tmp_path: Path):
    """A live process in another PID namespace (a container) on the same host: its lock speaks for it."""
    import subprocess
    import sys

    from kgzsl import results

    dead = 2**22 + 12345  # above Linux's pid_max default: no such process here
    folder = tmp_path / _owned_name("tmp", results._host_key(), results._boot_key(), dead, 0)
    folder.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        assert clean_stale_staging(tmp_path) == [] and folder.is_dir()
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert clean_stale_staging(tmp_path) == [folder]


def test_folders_from_before_owners_were_recorded_are_removed_when_old(tmp_path: Path):
    import os

    from kgzsl.results import LEGACY_STALE_AFTER_S

    old, recent = tmp_path / ".seed-0.tmp-ab_cd123", tmp_path / ".seed-1.tmp-xy7z0q9w"
    for folder in (old, recent):
        folder.mkdir()
        (folder / "meta.json").write_text("{}")
    past = old.stat().st_mtime - LEGACY_STALE_AFTER_S - 60
    os.utime(old, (past, past))
    assert clean_stale_staging(tmp_path) == [old]
    assert recent.is_dir()


def test_interrupted_overwrite_keeps_the_previous_run(tmp_path: Path):
    """Killed between moving the old run aside and moving the new one in: the old run comes back."""
    exp = tmp_path / "exp"
    with staged_run_dir(exp / "seed-0") as tmp:
        (tmp / "metrics.json").write_text('{"zsl/top1": 0.5}')
    dead = 2**22 + 12345  # above Linux's pid_max default: no such process
    trash = exp / _owned_name("old", __import__("kgzsl.results").results._host_key(), "0", dead, 0)
    trash.mkdir()
    os_replace = __import__("os").replace
    os_replace(exp / "seed-0", trash / "seed-0")
    staging = exp / _owned_name("tmp", __import__("kgzsl.results").results._host_key(), "0", dead, 0)
    staging.mkdir()
    (staging / "metrics.json").write_text('{"zsl/top1": 0.7}')
    assert sorted(clean_stale_staging(exp)) == sorted([trash, staging])
    assert json.loads((exp / "seed-0" / "metrics.json").read_text()) == {"zsl/top1": 0.5}
    assert sorted(p.name for p in exp.iterdir()) == ["seed-0"]


def test_run_folder_has_ordinary_permissions(tmp_path: Path):
    import os

    with staged_run_dir(tmp_path / "exp" / "seed-0") as tmp:
        (tmp / "metrics.json").write_text("{}")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "exp" / "seed-0").stat().st_mode & 0o777 == 0o777 & ~umask


# --------------------------------------------------------------------------- class names, per_class.csv, plots


def test_class_names_from_kg_labels(tmp_path: Path):
    from kgzsl.knowledge.store import KnowledgeGraph

    ttl = tmp_path / "kg.ttl"
    ttl.write_text(
        """@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix ex: <http://example.org/zoo#> .
ex:n02071294 a owl:Class ; rdfs:label "killer_whale, killer, orca, grampus"^^<http://www.w3.org/2001/XMLSchema#string> .
ex:n02012849 a owl:Class ; rdfs:label "crane" .
ex:n03126707 a owl:Class ; rdfs:label "crane" .
ex:n01000001 a owl:Class ; skos:prefLabel "Washington, D.C."@en ; rdfs:label "capital" .
ex:n01000002 a owl:Class ; rdfs:label "Hund"@de , "dog"@en .
ex:n01000003 a owl:Class .
"""
    )
    kg = KnowledgeGraph.from_files(ttl)
    ids = ["n02071294", "n02012849", "n03126707", "n01000001", "n01000002", "n01000003"]
    assert class_names(kg, ids) == {
        "n02071294": "killer whale",  # the first of a K-ZSL/WordNet synonym list
        "n02012849": "crane (n02012849)",  # two classes named alike: ids appended
        "n03126707": "crane (n03126707)",
        "n01000001": "Washington, D.C.",  # skos:prefLabel first, whole
        "n01000002": "dog",  # the preferred language
        "n01000003": "n01000003",  # no label: the dataset's id
    }
    # a class the KG does not have: the others keep their labels, it keeps its own name
    names = class_names(kg, ["n02071294", "polar+bear"])
    assert names == {"n02071294": "killer whale", "polar+bear": "polar bear"}
    assert class_names(None, ["002.Laysan_Albatross", "killer+whale"]) == {
        "002.Laysan_Albatross": "Laysan Albatross",
        "killer+whale": "killer whale",
    }


def test_class_names_on_the_kzsl_awa_kg(shared_data: Path):
    from kgzsl.knowledge.store import KnowledgeGraph

    kg = KnowledgeGraph.from_files(shared_data / "kzsl" / "KG" / "KG-AwA.ttl")
    names = class_names(kg, ["n02071294", "n02064816"])
    assert names == {"n02071294": "killer whale", "n02064816": "blue whale"}


def test_per_class_csv_has_names(tmp_path: Path):
    import csv

    rows = [
        {"class": "n02071294", "split": "unseen", "zsl_top1": 0.5, "gzsl_top1": 0.25},
        {"class": "beaver", "split": "seen", "zsl_top1": None, "gzsl_top1": 1.0},
    ]
    write_per_class(tmp_path / "per_class.csv", rows, {"n02071294": "killer whale"})
    with open(tmp_path / "per_class.csv", newline="") as f:
        read = list(csv.DictReader(f))
    assert list(read[0]) == ["class", "name", "split", "zsl_top1", "gzsl_top1"]
    assert read[0] == {
        "class": "n02071294",
        "name": "killer whale",
        "split": "unseen",
        "zsl_top1": "0.5",
        "gzsl_top1": "0.25",
    }
    assert read[1]["name"] == "beaver" and read[1]["zsl_top1"] == ""


def _per_class(n_unseen: int, seed: int = 0) -> list[dict]:
    import numpy as np

    rng = np.random.default_rng(seed)
    return [
        {"class": f"n{i:08d}", "split": "unseen", "zsl_top1": float(rng.random()), "gzsl_top1": float(rng.random())}
        for i in range(n_unseen)
    ] + [{"class": "s0", "split": "seen", "zsl_top1": None, "gzsl_top1": 0.9}]


_METRICS = {"gzsl/ausuc": 0.4, "gzsl/unseen": 0.2, "gzsl/seen": 0.8}
_CURVE = {"unseen": [0.0, 0.5, 1.0], "seen": [1.0, 0.6, 0.0]}


@pytest.mark.parametrize("n_unseen", [12, 72, 500])
def test_plot_shows_names_and_stays_readable(tmp_path: Path, n_unseen: int, monkeypatch):
    from matplotlib.figure import Figure

    saved = {}
    original = Figure.savefig

    def spy(fig, *args, **kwargs):
        ax = next(a for a in fig.axes if a.get_title().startswith("Unseen classes"))
        saved["labels"] = [t.get_text() for t in ax.get_yticklabels()]
        saved["title"] = ax.get_title()
        saved["size"] = fig.get_size_inches()
        return original(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    rows = _per_class(n_unseen)
    names = {r["class"]: f"name {i}" for i, r in enumerate(rows)}
    plot_run(tmp_path / "plot.png", _CURVE, _METRICS, rows, "t", names=names)
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    labels = saved["labels"]
    unseen = sorted(rows[:n_unseen], key=lambda r: -r["zsl_top1"])
    if n_unseen <= 40:
        assert labels == [names[r["class"]] for r in unseen]  # all of them, best first
    else:  # the 20 best, a gap, the 20 worst, and a note saying so
        assert len(labels) == 41 and labels[:20] == [names[r["class"]] for r in unseen[:20]]
        assert labels[21:] == [names[r["class"]] for r in unseen[-20:]]
        assert f"20 best and 20 worst of {n_unseen}" in saved["title"]
    assert saved["size"][1] < 12  # inches: the bar panel does not grow with the number of classes


def test_plot_keeps_library_warnings_from_users(tmp_path: Path):
    import warnings

    rows = _per_class(5)
    names = {r["class"]: "\U0001f40b whale \u2603" for r in rows}  # glyphs the default font lacks
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plot_run(tmp_path / "plot.png", _CURVE, _METRICS, rows, "t", names=names)
    assert [str(w.message) for w in caught] == []


def test_plot_does_not_change_the_users_matplotlib_backend(tmp_path: Path):
    import matplotlib

    before = matplotlib.get_backend()
    plot_run(tmp_path / "plot.png", _CURVE, _METRICS, _per_class(3), "t")
    assert matplotlib.get_backend() == before
