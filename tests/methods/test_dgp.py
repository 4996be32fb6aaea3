"""DGP: hop masks by hand, learned hop attention, the fine-tuning stage, save / load.

Beating chance on a synthetic ImageNet-like hierarchy with two kinds of semantics is tested for
GCNZ and DGP together in ``test_gcnz.py``."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.context import RunContext
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.methods.dgp import DGP, hop_masks
from kgzsl.testing import TOY_CLASSES, toy_task, write_toy_kg

FAST = {"hidden": [32], "epochs": 150, "target_epochs": 200, "dropout": 0.0}
CPU = RunContext(seed=0, device="cpu", progress=False)


@pytest.fixture
def task(tmp_path: Path):
    t = toy_task()
    t.knowledge = KnowledgeGraph.from_files(write_toy_kg(tmp_path / "toy.ttl"))
    t.class_ids = list(TOY_CLASSES)
    return t


def test_chain_hop_masks_by_hand():
    # a 4-node chain 0 → 1 → 2 → 3 (child → parent): node 0's ancestors are 1, 2, 3 at 1, 2, 3 hops
    edges = np.array([[0, 1, 2], [1, 2, 3]])
    m = [x.toarray() for x in hop_masks(edges, 4, max_hops=4)]
    assert len(m) == 5
    np.testing.assert_array_equal(m[0], np.eye(4))
    np.testing.assert_array_equal(m[1], [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]])
    np.testing.assert_array_equal(m[2], [[0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(m[3], [[0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(m[4], np.zeros((4, 4)))
    # descendants are the transposes: node 3 gathers from 2, 1, 0 at 1, 2, 3 hops
    assert m[3].T[3, 0] == 1 and m[1].T[3, 2] == 1
    # with max_hops=2 the 3-hop ancestor joins the last group
    merged = [x.toarray() for x in hop_masks(edges, 4, max_hops=2)]
    np.testing.assert_array_equal(merged[2], m[2] + m[3])


def test_hop_masks_keep_the_shortest_distance():
    # 0 → 1 → 3 and 0 → 3 directly: 3 is a 1-hop ancestor of 0, not also a 2-hop one
    edges = np.array([[0, 1, 0], [1, 3, 3]])
    m = [x.toarray() for x in hop_masks(edges, 4, max_hops=3)]
    assert m[1][0, 3] == 1 and m[2][0, 3] == 0
    assert sum(x[0] for x in m).max() == 1


def test_hop_weights_are_learned_and_kept(task):
    method = DGP(**FAST).fit(task, context=CPU)
    alpha = method.hop_weights_
    assert alpha.shape == (2, 5)  # two layers, hops 0..4
    torch.testing.assert_close(alpha.sum(1), torch.ones(2))
    assert not torch.allclose(alpha, torch.full_like(alpha, 0.2))  # moved from uniform
    assert method.adapter_ is None  # no fine-tuning by default
    m = method.metrics_
    assert m["dgp/loss"] < 0.5 * m["dgp/loss_initial"] and m["dgp/seen_cosine"] > 0.5


def test_fine_tuning_adapts_the_features_with_the_weights_frozen(task):
    plain = DGP(**FAST).fit(task, context=CPU)
    tuned = DGP(**FAST, finetune=True, finetune_epochs=50, finetune_lr=1e-2).fit(task, context=CPU)
    assert torch.equal(plain.weights_, tuned.weights_)  # the same seed: the same weights, frozen
    a = tuned.adapter_
    assert a is not None and a.shape == (16, 16) and float(a.abs().max()) > 0
    x = task.features[:5]
    c = tuned.candidates_
    expected = (x + x @ a.T) @ tuned.weights_[c].T
    torch.testing.assert_close(tuned.decision_function(x)[:, c], expected)
    assert tuned.metrics_["dgp/finetune_train_accuracy"] >= 0.5


def test_save_load_keeps_the_adapter(task, tmp_path: Path):
    method = DGP(**FAST, finetune=True, finetune_epochs=5).fit(task, context=CPU)
    method.save(tmp_path / "dgp.pt")
    loaded = DGP.load(tmp_path / "dgp.pt")
    assert torch.equal(loaded.decision_function(task.features), method.decision_function(task.features))


def test_max_hops_is_checked():
    from kgzsl.errors import ConfigError
    from kgzsl.registry import METHODS

    with pytest.raises(ConfigError, match=r"max_hops: expected a value > 0"):
        METHODS.build("dgp", max_hops=0)


@pytest.mark.slow  # ~1 min: AwA2's 37,322 synthetic images, the WordNet graph, validation and test
def test_awa2_through_dgps_wordnet_graph_runs_on_the_real_metadata(shared_data: Path, wordnet, tmp_path: Path):
    import json

    import yaml

    import kgzsl
    from kgzsl.pipeline import run_experiment

    path = Path(kgzsl.__file__).parent / "configs" / "awa2_dgp_wordnet.yaml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    dgp_folder = shared_data / "imagenet" / "dgp"
    config["knowledge"].update(dgp_folder=str(dgp_folder), wordnet=str(wordnet.path))
    config["dataset"].update(root=str(shared_data / "xlsa17"), n_features=64)
    config["method"].update(class_map=str(dgp_folder / "awa2-split.json"), hidden=[64], epochs=50)
    config["select"] = {"method.epochs": [50]}
    config["train"].update(device="cpu")
    result = run_experiment(config, "awa2_dgp", out=tmp_path, progress=False)
    m = result.metrics
    assert 0 <= m["zsl/top1"] <= 1 and np.isfinite(m["gzsl/h"])
    # the 50 AwA2 classes and their WordNet ancestors, found through DGP's wnids
    assert m["dgp/nodes"] == 101 and m["dgp/edges"] == 103
    assert json.loads((result.run_dir / "metrics.json").read_text())["dgp/nodes"] == 101
