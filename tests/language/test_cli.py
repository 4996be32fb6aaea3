"""``kgzsl clip compare`` end to end: a features folder extracted by the data layer from
generated images of the real AWA2 classes with the tiny open_clip model, every prompt source,
the comparison table; one-line errors before any work."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from kgzsl.cli import main
from kgzsl.testing import write_tiny_clip


@pytest.fixture
def awa2_features(shared_data: Path, tmp_path: Path) -> tuple[Path, dict]:
    """2 generated 32-px images for each of AWA2's 50 classes (folders named with spaces, as
    the documents are), extracted with the tiny CLIP into a features folder."""
    from PIL import Image

    from kgzsl.data.features import extract_features
    from kgzsl.language.documents import dataset_class_ids

    (tmp_path / "clip").mkdir()
    clip = write_tiny_clip(tmp_path / "clip")
    rng = np.random.default_rng(0)
    for cid in dataset_class_ids(shared_data / "xlsa17" / "AWA2"):
        folder = tmp_path / "images" / cid.replace("+", " ")
        folder.mkdir(parents=True)
        for k in range(2):
            pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{k}.png")
    out = extract_features(
        tmp_path / "images", tmp_path / "features", "open_clip:kgzsl-tiny-clip", weights=clip["weights"], progress=False
    )
    return out, clip


def test_compare_writes_the_relaxed_table_for_every_source(awa2_features, shared_data: Path, tmp_path: Path, capsys):
    features, clip = awa2_features
    args = ["clip", "compare", "--features", str(features), "--dataset", "AWA2", "--no-progress"]
    args += ["--arch", clip["arch"], "--weights", clip["weights"], "--out", str(tmp_path / "cmp")]
    args += ["--documents", str(shared_data / "text" / "documents" / "AWA2.json")]
    # K-ZSL's AwA attribute list: AwA2's 85 attributes, then 17 attribute groups
    lines = (shared_data / "kzsl" / "ori_data" / "AwA" / "attribute.txt").read_text().splitlines()
    (tmp_path / "attributes.txt").write_text("\n".join(lines[:85]))
    args += ["--attribute-names", str(tmp_path / "attributes.txt")]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "relaxed setting: CLIP may have seen the unseen classes" in printed
    md = (tmp_path / "cmp" / "comparison.md").read_text()
    assert md.startswith("### CLIP zero-shot by prompt source — AWA2, open_clip:kgzsl-tiny-clip — relaxed setting")
    with open(tmp_path / "cmp" / "comparison.csv") as f:
        rows = list(csv.DictReader(f))
    kinds = [(r["source"], r["combine"]) for r in rows]
    assert kinds == [
        ("names", "mean"),
        ("templates", "mean"),
        ("templates", "weighted"),
        ("short", "mean"),
        ("short", "weighted"),
        ("attributes", "mean"),
        ("documents", "mean"),
        ("all sources", "mean"),
        ("all sources", "weighted"),
    ]
    assert [int(r["prompts"]) for r in rows[:3]] == [1, 80, 80] and rows[-1]["prompts"] == str(1 + 80 + 7 + 1 + 1)
    for row in rows:
        assert all(0.0 <= float(row[k]) <= 1.0 for k in ("zsl/top1", "gzsl/seen", "gzsl/unseen", "gzsl/h"))
    assert (tmp_path / "cmp" / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    meta = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert meta["num_images"] == {"seen": 80, "unseen": 20} and meta["transductive"] is True
    assert sum(meta["prompt_weights"]["templates"].values()) == pytest.approx(1.0, abs=1e-5)
    # the folder is not overwritten silently
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    # the class bias measured on an outside image set
    np.save(tmp_path / "outside.npy", np.random.default_rng(1).random((10, 16), dtype=np.float32))
    args = [*args[: args.index("--out")], "--out", str(tmp_path / "cmp2"), "--sources", "short"]
    assert main([*args, "--weighting-images", str(tmp_path / "outside.npy")]) == 0
    outside = json.loads((tmp_path / "cmp2" / "comparison.json").read_text())
    assert outside["weighting_images"] == str(tmp_path / "outside.npy")
    assert [r["combine"] for r in outside["rows"]] == ["mean", "weighted"]
    assert outside["prompt_weights"]["short"] != meta["prompt_weights"]["short"]
    # the knowledge graph's labels, literals and attributes (K-ZSL's AwA graph)
    kg = ["--kg", str(shared_data / "kzsl" / "KG" / "KG-AwA.ttl")]
    kg += ["--kg-namespace", "http://www.semanticweb.org/ontologies/AwA#", "--templates", "short"]
    args = [*args[: args.index("--out")], "--out", str(tmp_path / "cmp3"), *kg]
    assert main([*args, "--sources", "kg_labels", "kg_literals", "attributes"]) == 0, capsys.readouterr().err
    with_kg = json.loads((tmp_path / "cmp3" / "comparison.json").read_text())
    assert [(r["source"], r["prompts"]) for r in with_kg["rows"]] == [
        ("kg_labels", 7),
        ("kg_labels", 7),
        ("kg_literals", 1),
        ("attributes", 1),
        ("all sources", 9),
        ("all sources", 9),
    ]


def test_compare_refuses_other_models_weights_and_mismatched_towers(awa2_features, tmp_path: Path, capsys):
    features, clip = awa2_features
    base = ["clip", "compare", "--features", str(features), "--dataset", "AWA2", "--out", str(tmp_path / "x")]
    (tmp_path / "other").mkdir()
    other = write_tiny_clip(tmp_path / "other", seed=2)
    assert main([*base, "--arch", clip["arch"], "--weights", other["weights"]]) == 2
    err = capsys.readouterr().err
    assert "not the checkpoint that extracted the features" in err and err.count("\n") == 1
    assert main([*base, "--arch", "ViT-B-32", "--weights", clip["weights"]]) == 2
    err = capsys.readouterr().err
    assert "text tower open_clip:ViT-B-32 does not match the image features' backbone" in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_compare_without_weights_offline_fails_at_once(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    features = tmp_path / "features"
    features.mkdir()
    (features / "manifest.json").write_text(json.dumps({"backbone": "open_clip:ViT-B-32"}))
    args = ["clip", "compare", "--features", str(features), "--dataset", "AWA2", "--out", str(tmp_path / "o")]
    assert main([*args, "--weights", "openai"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kgzsl: error: --weights: 'openai' is a pretrained tag of ViT-B-32") and err.count("\n") == 1
    assert "HF_HUB_OFFLINE=1" in err
    assert main([*args, "--weights", str(tmp_path / "nothing.pt")]) == 2
    assert "no such checkpoint file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_compare_checks_sources_against_their_inputs(tmp_path: Path, capsys):
    features = tmp_path / "features"
    features.mkdir()
    (features / "manifest.json").write_text(json.dumps({"backbone": "open_clip:kgzsl-tiny-clip"}))
    clip = write_tiny_clip(tmp_path)
    args = ["clip", "compare", "--features", str(features), "--dataset", "AWA2", "--out", str(tmp_path / "o")]
    args += ["--arch", clip["arch"], "--weights", clip["weights"]]
    assert main([*args, "--sources", "names", "documents"]) == 2
    assert "'documents' needs --documents" in capsys.readouterr().err
    assert main([*args, "--sources", "nmes"]) == 2
    assert "unknown source 'nmes'" in capsys.readouterr().err


def test_dataset_from_a_name_a_folder_or_a_config(shared_data: Path, tmp_path: Path):
    import yaml

    from kgzsl.language.cli import _classes

    by_name = _classes("CUB", None, None)
    assert by_name.name == "CUB" and len(by_name.ids) == 200 and (len(by_name.seen), len(by_name.unseen)) == (150, 50)
    assert by_name.attributes.shape == (200, 312)
    config = tmp_path / "cub.yaml"
    config.write_text(yaml.safe_dump({"dataset": {"name": "xlsa17", "benchmark": "CUB"}}))
    assert _classes(str(config), None, None).ids == by_name.ids
    assert _classes(str(shared_data / "xlsa17" / "AWA2"), None, None).ids[:2] == ["antelope", "grizzly+bear"]
    (tmp_path / "seen.txt").write_text("antelope\ngrizzly bear\n")
    (tmp_path / "unseen.txt").write_text("zebra\n")
    small = _classes("AWA2", str(tmp_path / "seen.txt"), str(tmp_path / "unseen.txt"))
    assert [small.ids[i] for i in small.seen + small.unseen] == ["antelope", "grizzly+bear", "zebra"]
    with pytest.raises(Exception, match="no seen class list"):
        _classes("FLO", None, None)  # FLO's folder has no class lists: --seen / --unseen
