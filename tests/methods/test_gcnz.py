"""GCNZ (and what DGP shares with it): class graph, node inputs, targets, beating chance on a
synthetic ImageNet-like hierarchy with two kinds of semantics, old configs refused in one line."""

from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.context import RunContext
from kgzsl.errors import ConfigError, DataError
from kgzsl.knowledge.alignment import align_classes
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.methods.base import ZSLTask
from kgzsl.methods.gcnz import GCNZ, class_graph, class_reach, gcn_adjacency, graph_inputs, read_class_map
from kgzsl.registry import METHODS
from kgzsl.testing import TOY_CLASSES, toy_task, write_toy_kg

FAST = {"hidden": [32], "epochs": 150, "target_epochs": 200, "dropout": 0.0}
CPU = RunContext(seed=0, device="cpu", progress=False)


def hierarchy_task(
    semantics: str = "vectors", branching: tuple[int, ...] = (3, 3, 4), n_features: int = 32, seed: int = 0
) -> tuple[ZSLTask, torch.Tensor, torch.Tensor]:
    """A small ImageNet-like task: classes at the leaves of a WordNet-like tree, a quarter unseen.

    Each node's hidden code is its parent's plus noise that shrinks with depth, so siblings are
    alike; a class's images are ``relu`` of a hidden linear map of its leaf's code plus noise.
    The class semantics are another noisy map of the same code: ``vectors`` (dense, like word
    vectors) or ``attributes`` (binary, thresholded). The graph's inner nodes are not classes.

    Returns:
        ``(task, test features of the unseen classes, their labels)``.
    """
    rng = np.random.default_rng(seed)
    latent = 16
    codes, parents = [rng.normal(0, 1, latent)], [-1]
    frontier = [0]
    for level, k in enumerate(branching, start=1):
        nxt = []
        for p in frontier:
            for _ in range(k):
                codes.append(codes[p] + rng.normal(0, 1.0 / level, latent))
                parents.append(p)
                nxt.append(len(codes) - 1)
        frontier = nxt
    leaves = frontier
    n_classes = len(leaves)
    z = np.stack([codes[i] for i in leaves])
    mix = rng.normal(0, 1 / np.sqrt(latent), (latent, n_features))
    means = np.maximum(z @ mix, 0) + 0.2
    per_class = 30
    labels = np.repeat(np.arange(n_classes), per_class)
    features = np.maximum(means[labels] + rng.normal(0, 0.4, (len(labels), n_features)), 0).astype(np.float32)
    project = rng.normal(0, 1 / np.sqrt(latent), (latent, 24))
    sem = z @ project + rng.normal(0, 0.1, (n_classes, 24))
    sem = (sem > 0).astype(np.float32) if semantics == "attributes" else sem.astype(np.float32)
    unseen = np.sort(rng.choice(n_classes, size=n_classes // 4, replace=False))
    seen = np.setdiff1d(np.arange(n_classes), unseen)

    import pyoxigraph as ox

    ns, rdfs = "http://example.org/tree#", "http://www.w3.org/2000/01/rdf-schema#"
    names = [f"node{i}" for i in range(len(codes))]
    node = [ox.NamedNode(ns + n) for n in names]
    sub, label = ox.NamedNode(rdfs + "subClassOf"), ox.NamedNode(rdfs + "label")
    triples = [(node[i], sub, node[p]) for i, p in enumerate(parents) if p >= 0]
    triples += [(node[i], label, ox.Literal(n)) for i, n in enumerate(names)]
    kg = KnowledgeGraph()
    kg.add_triples(triples, graph="tree")

    train = np.isin(labels, seen) & (np.arange(len(labels)) % per_class < 20)
    test = np.isin(labels, unseen)
    task = ZSLTask(
        features=torch.as_tensor(features[train]),
        labels=torch.as_tensor(labels[train]),
        semantics=torch.as_tensor(sem),
        seen=torch.as_tensor(seen),
        unseen=torch.as_tensor(unseen),
        knowledge=kg,
        class_ids=[names[i] for i in leaves],
    )
    return task, torch.as_tensor(features[test]), torch.as_tensor(labels[test])


def _zsl_top1(method, x: torch.Tensor, y: torch.Tensor, unseen: torch.Tensor) -> float:
    pred = unseen[method.decision_function(x)[:, unseen].argmax(1)]
    return float(np.mean([(pred[y == c] == c).float().mean() for c in unseen.tolist()]))


@pytest.fixture(scope="module")
def toy_kg(tmp_path_factory) -> KnowledgeGraph:
    return KnowledgeGraph.from_files(write_toy_kg(tmp_path_factory.mktemp("kg") / "toy.ttl"))


@pytest.fixture
def task(toy_kg):
    t = toy_task()
    t.knowledge, t.class_ids = toy_kg, list(TOY_CLASSES)
    return t


def test_gcn_adjacency_is_symmetric_normalised():
    adj = gcn_adjacency(np.array([[0, 1, 2], [1, 2, 3]]), 4).to_dense()
    deg = np.array([2, 3, 3, 2], dtype=np.float32)
    a = np.eye(4) + np.diag(np.ones(3), 1) + np.diag(np.ones(3), -1)
    np.testing.assert_allclose(adj.numpy(), a / np.sqrt(np.outer(deg, deg)), rtol=1e-6)


def test_class_reach_by_hand():
    # classes 0, 1 under node 2, node 2 and class 3 under the root 4; node 5 hangs off 4 too
    edges = np.array([[0, 1, 2, 3, 5], [2, 2, 4, 4, 4]])
    r = class_reach(edges, 6, 2).toarray()
    np.testing.assert_array_equal(r, [[1, 0, 1, 0, 1, 0], [0, 1, 1, 0, 1, 0]])


def test_class_graph_puts_the_classes_first_and_keeps_their_ancestors(toy_kg):
    iris = align_classes(toy_kg, TOY_CLASSES[:2])  # cat, lion: Felid, Mammal, Animal above them
    g = class_graph(toy_kg, iris, ["rdfs:subClassOf"], nodes="ancestors")
    assert g.node_ids[:2] == iris and g.num_classes == 2
    assert sorted(i.rsplit("#", 1)[1] for i in g.node_ids[2:]) == ["Animal", "Felid", "Mammal"]
    assert g.edges.shape[1] == 4 and g.edges.max() < g.num_nodes
    everything = class_graph(toy_kg, iris, ["rdfs:subClassOf"], nodes="all")
    assert everything.num_nodes == 17 and everything.node_ids[:2] == iris


def test_descendant_inputs_are_the_mean_of_the_classes_below():
    from kgzsl.methods.gcnz import ClassGraph

    g = ClassGraph(["a", "b", "c", "p", "root"], np.array([[0, 1, 2, 3], [3, 3, 4, 4]]), 3)
    s = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 3.0]], dtype=np.float32)
    x = graph_inputs(g, s, "descendants")
    np.testing.assert_allclose(x, [[1, 0], [0, 1], [3, 3], [0.5, 0.5], [4 / 3, 4 / 3]])


def test_label_inputs_must_match_the_semantics(task, tmp_path: Path):
    from kgzsl.testing import write_tiny_glove

    glove = str(write_tiny_glove(tmp_path / "glove.txt"))  # 4-d; the toy semantics are 10-d
    with pytest.raises(ConfigError, match="4-d node inputs but the semantics are 10-d"):
        GCNZ(other_inputs="word_vectors", word_vectors_path=glove, **FAST).fit(task, context=CPU)
    task.semantics = torch.rand(task.num_classes, 4, generator=torch.Generator().manual_seed(0))
    method = GCNZ(other_inputs="word_vectors", word_vectors_path=glove, **FAST).fit(task, context=CPU)
    assert torch.isfinite(method.weights_).all()


def test_fit_trains_scores_and_repeats(task):
    method = GCNZ(**FAST).fit(task, context=CPU)
    m = method.metrics_
    assert m["gcnz/loss"] < 0.5 * m["gcnz/loss_initial"] and m["gcnz/seen_cosine"] > 0.5
    assert method.weights_.shape == (task.num_classes, task.features.shape[1])
    torch.testing.assert_close(method.weights_.norm(dim=1), torch.ones(task.num_classes))
    x = task.features[:7]
    scores = method.decision_function(x)
    c = task.candidates
    torch.testing.assert_close(scores[:, c], x @ method.weights_[c].T)  # x Wᵀ
    again = GCNZ(**FAST).fit(task, context=CPU).decision_function(x)
    assert torch.equal(scores, again)
    other = GCNZ(**FAST).fit(task, context=CPU.with_(seed=1)).decision_function(x)
    assert not torch.equal(scores, other)


def test_fit_leaves_the_global_rng_alone(task):
    torch.manual_seed(3)
    expected = torch.rand(3)
    torch.manual_seed(3)
    GCNZ(**FAST).fit(task, context=CPU)
    torch.testing.assert_close(torch.rand(3), expected)


@pytest.mark.parametrize("name", ["gcnz", "dgp"])
@pytest.mark.parametrize("semantics", ["vectors", "attributes"])
def test_beats_chance_on_an_imagenet_like_hierarchy(name, semantics):
    task, x, y = hierarchy_task(semantics)
    method = METHODS.build(name, **FAST).fit(task, context=CPU)
    acc = _zsl_top1(method, x, y, task.unseen)
    chance = 1 / len(task.unseen)  # 9 unseen leaves
    assert acc > chance + 0.25, acc
    assert method.metrics_[f"{name}/nodes"] == 1 + 3 + 9 + 36


def test_needs_knowledge_and_edges(task):
    task.knowledge = None
    with pytest.raises(ConfigError, match="knowledge"):
        GCNZ(**FAST).fit(task, context=CPU)
    t, _, _ = hierarchy_task()
    with pytest.raises(DataError, match="not in the knowledge graph"):
        GCNZ(relations=["http://example.org/none"], **FAST).fit(t, context=CPU)
    with pytest.raises(DataError, match="without edges"):  # labels are literals: no edge between nodes
        GCNZ(relations=["rdfs:label"], **FAST).fit(t, context=CPU)


def test_class_map_reads_dgp_split_files_and_plain_maps(tmp_path: Path):
    import json

    dgp = tmp_path / "awa2-split.json"
    dgp.write_text(json.dumps({"train": ["n1", "n2"], "test": ["n3"], "train_names": ["a", "b"], "test_names": ["c"]}))
    assert read_class_map(str(dgp)) == {"a": "n1", "b": "n2", "c": "n3"}
    plain = tmp_path / "map.json"
    plain.write_text(json.dumps({"killer+whale": "n02071294"}))
    assert read_class_map(str(plain)) == {"killer+whale": "n02071294"}
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="expected"):
        read_class_map(str(tmp_path / "bad.json"))


def test_class_map_aligns_renamed_classes(task):
    import json
    import tempfile

    renamed = [f"class{i}" for i in range(task.num_classes)]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "map.json"
        path.write_text(json.dumps(dict(zip(renamed, TOY_CLASSES))))
        task.class_ids = renamed
        method = GCNZ(class_map=str(path), **FAST).fit(task, context=CPU)
    assert method.node_ids_[:2] == ["http://example.org/toy#cat", "http://example.org/toy#lion"]


def test_save_load_gives_the_same_scores(task, tmp_path: Path):
    method = GCNZ(**FAST).fit(task, context=CPU)
    method.save(tmp_path / "gcnz.pt")
    loaded = GCNZ.load(tmp_path / "gcnz.pt")
    assert torch.equal(loaded.decision_function(task.features), method.decision_function(task.features))


@pytest.mark.parametrize(
    ("section", "spec", "message"),
    [
        (
            "semantics",
            {"name": "gcnz"},
            r"^semantics\.name: unknown semantics 'gcnz': GCNZ is a method now: write method: \{name: gcnz\}",
        ),
        (
            "semantics",
            {"name": "dgp"},
            r"^semantics\.name: unknown semantics 'dgp': DGP is a method now: write method: \{name: dgp\}",
        ),
        (
            "method",
            {"name": "classifier_weights"},
            r"^method\.name: unknown methods 'classifier_weights': .*method: \{name: gcnz\}",
        ),
    ],
)
def test_old_configs_fail_at_config_check_with_one_line(section, spec, message):
    from kgzsl.config import resolve

    config = {
        "dataset": {"name": "synthetic_kg"},
        "knowledge": {"name": "files", "paths": "embedded:animals"},
        "semantics": {"name": "kg_attributes"},
        "method": {"name": "gcnz"},
        section: spec,
    }
    with pytest.raises(ConfigError, match=message) as info:
        resolve(config)
    assert "\n" not in str(info.value)


def test_config_checks_word_vector_inputs():
    with pytest.raises(ConfigError, match="word_vectors_path"):
        METHODS.build("gcnz", other_inputs="word_vectors")
    with pytest.raises(ConfigError, match=r"hidden: expected a value > 0"):
        METHODS.build("gcnz", hidden=[64, -1])


@pytest.mark.slow  # ~1 min: two runs of the pipeline with validation
@pytest.mark.parametrize("semantics", [{"name": "kg_attributes"}, {"name": "sentence", "texts": "label"}])
def test_runs_from_a_config_with_two_kinds_of_semantics(semantics, tmp_path: Path):
    from kgzsl.pipeline import run_experiment

    config = {
        "dataset": {"name": "synthetic_kg"},
        "knowledge": {"name": "files", "paths": "embedded:animals"},
        "semantics": semantics,
        "method": {"name": "gcnz", "hidden": [128], "target_epochs": 100},
        "train": {"device": "cpu"},
        "eval": {"calibrate": False},
    }
    result = run_experiment(config, "gcnz", out=tmp_path, progress=False)
    assert result.metrics["zsl/top1"] > 1 / 12 + 0.15  # 12 unseen classes


def test_classes_match_graph_nodes_by_local_name_roots_included():
    # node0 is the tree's root: only ever the object of rdfs:subClassOf (align_classes alone,
    # which looks for subjects of rdf:type / rdfs:subClassOf / owl:sameAs, misses it)
    task, _, _ = hierarchy_task()
    task.class_ids = ["node0"] + task.class_ids[1:]
    iris = GCNZ()._class_iris(task, ["http://www.w3.org/2000/01/rdf-schema#subClassOf"])
    assert iris[0] == "http://example.org/tree#node0"
    assert iris[1:] == ["http://example.org/tree#" + c for c in task.class_ids[1:]]


@pytest.mark.parametrize("name", ["gcnz", "dgp"])
def test_a_config_without_knowledge_is_refused_before_any_work(name):
    from kgzsl.config import resolve

    config = {"dataset": {"name": "synthetic_kg"}, "semantics": {"name": "dataset"}, "method": {"name": name}}
    with pytest.raises(ConfigError, match=rf"^method: {name} reads a knowledge graph"):
        resolve(config)
