"""``kgzsl data info | extract-features | download`` from the command line."""

from pathlib import Path

import numpy as np
import pytest
import scipy.io as sio

from kgzsl.cli import main


def test_info_of_a_registered_dataset_with_overrides(shared_data: Path, capsys):
    assert main(["data", "info", "synthetic_benchmark", "--set", "benchmark=FLO", "--set", "n_features=16"]) == 0
    out = capsys.readouterr().out
    assert "synthetic features" in out and "82 seen / 20 unseen" in out
    assert "trainval 5631, test_seen 1403, test_unseen 1155" in out


def test_info_of_an_xlsa17_folder(shared_data: Path, tmp_path: Path, capsys):
    real = (shared_data / "xlsa17" / "AWA2").resolve()
    folder = tmp_path / "AWA2"
    folder.mkdir()
    (folder / "att_splits.mat").symlink_to(real / "att_splits.mat")
    att = sio.loadmat(str(real / "att_splits.mat"))
    names = [str(x[0][0]) for x in att["allclasses_names"]]
    seen = [names.index(c) + 1 for c in (real / "trainvalclasses.txt").read_text().split()]
    unseen = [names.index(c) + 1 for c in (real / "testclasses.txt").read_text().split()]
    n = int(max(att[k].max() for k in ("trainval_loc", "test_seen_loc", "test_unseen_loc")))
    # the real schema: features D × N, labels N × 1 (1-based); images get classes of their split
    labels = np.zeros((n, 1))
    for key, classes in (("trainval_loc", seen), ("test_seen_loc", seen), ("test_unseen_loc", unseen)):
        idx = att[key].ravel() - 1
        labels[idx, 0] = np.resize(classes, len(idx))
    sio.savemat(str(folder / "res101.mat"), {"features": np.random.default_rng(0).random((8, n)), "labels": labels})
    assert main(["data", "info", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "8 features" in out and "40 seen / 10 unseen" in out
    assert "trainval 23527, test_seen 5882, test_unseen 7913" in out


def test_extract_features_command(shared_data: Path, tmp_path: Path, capsys):
    import shutil

    images = tmp_path / "images" / "cat"
    images.mkdir(parents=True)
    for i in (1, 2, 3):
        shutil.copy(shared_data / "images" / "awa2" / f"{i}.jpg", images / f"{i}.jpg")
    out = tmp_path / "features"
    with pytest.warns(UserWarning):
        code = main(
            ["data", "extract-features", str(tmp_path / "images"), "--out", str(out),
             "--backbone", "open_clip:kgzsl-tiny-vit", "--batch-size", "2"]
        )  # fmt: skip
    assert code == 0 and (out / "features.npy").is_file() and (out / "manifest.json").is_file()
    assert np.load(out / "features.npy").shape[0] == 3


def test_download_offline_or_unverified_is_one_line(tmp_path: Path, capsys):
    assert main(["data", "download", "awa2", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kgzsl: error: ") and err.count("\n") == 1
    assert main(["data", "download", "mnist", "--root", str(tmp_path)]) == 2
    assert "mnist" in capsys.readouterr().err


def test_data_mistakes(capsys):
    assert main(["data", "info", "no-such-dataset"]) == 2
    assert "not a registered dataset" in capsys.readouterr().err
    assert main(["data"]) == 2


def test_info_with_the_old_name_spelling_says_what_to_write(capsys):
    assert main(["data", "info", "xlsa17", "--set", "name=CUB"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "write dataset: {name: xlsa17, benchmark: CUB}" in err
