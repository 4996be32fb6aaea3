import json
from pathlib import Path

import numpy as np
import pytest

from kgzsl.errors import DataError
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.knowledge.views import to_pyg
from kgzsl.knowledge.wordnet import (
    GCNZ_EDGE,
    GCNZ_ROOTS,
    WORDNET_NAMESPACE,
    WordNet,
    dgp_induced_hierarchy,
    gcnz_triples,
    induced_hierarchy,
    load_gcnz_graph,
    load_gcnz_names,
    read_gcnz,
    wordnet_triples,
)

SUB = "http://www.w3.org/2000/01/rdf-schema#subClassOf"

# data.noun format (wndb(5)): offset lex_filenum ss_type w_cnt(hex) [word lex_id]... p_cnt [ptr]... | gloss
# (each line of the real file ends with two spaces: added by _noun_file)
TINY = """\
  1 This software and database is being provided to you, the LICENSEE, by
  2 Princeton University under the following license.
00000001 03 n 01 entity 0 002 ~ 00000002 n 0000 ~ 00000003 n 0000 | that which exists
00000002 03 n 02 animal 0 beast 0 003 @ 00000001 n 0000 ~ 00000004 n 0000 ~ 00000005 n 0000 | a living organism
00000003 03 n 01 person 0 002 @ 00000001 n 0000 ~i 00000006 n 0000 | a human being
00000004 05 n 02 dog 0 domestic_dog 0 002 @ 00000007 n 0000 @ 00000002 n 0000 | a canine; "the dog barked"
00000005 05 n 01 cat 0 001 @ 00000002 n 0000 | a feline
00000006 18 n 01 Mozart 0 001 @i 00000003 n 0000 | an Austrian composer
00000007 03 n 01 pet 0 001 @ 00000001 n 0000 | a domesticated animal
00000008 03 n 0a a1 0 a2 0 a3 0 a4 0 a5 0 a6 0 a7 0 a8 0 a9 0 a10 0 001 @ 00000001 n 0000 | ten names
00000009 03 n 01 line 0 001 @ 00000001 n 0000 | a mark
00000010 03 n 01 line 0 001 @ 00000001 n 0000 | a formation
00000011 03 n 01 queue 0 002 @ 00000009 n 0000 @ 00000010 n 0000 | people waiting
"""


def _noun_file(path: Path, text: str = TINY) -> Path:
    path.write_text("".join(line + "  \n" for line in text.splitlines()))
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> WordNet:
    return WordNet.load(_noun_file(tmp_path / "data.noun"))


def n(i: int) -> str:
    return f"n{i:08d}"


def test_parse_names_glosses(tiny: WordNet):
    assert len(tiny) == 11 and n(4) in tiny and "n99999999" not in tiny
    assert tiny.lemmas(n(4)) == ["dog", "domestic_dog"]
    assert tiny.names(n(4)) == ["dog", "domestic dog"]
    assert tiny.names(n(8)) == [f"a{i}" for i in range(1, 11)]  # w_cnt is hexadecimal
    assert tiny.gloss(n(4)) == 'a canine; "the dog barked"'
    with pytest.raises(DataError, match="not a WordNet 3.0 noun synset"):
        tiny.names("n99999999")


def test_hypernyms_nltk_semantics(tiny: WordNet, tmp_path: Path):
    assert tiny.hypernyms(n(4)) == [n(2), n(7)]  # sorted by NLTK name: animal.n.01 < pet.n.01
    assert tiny.hypernyms(n(1)) == []
    assert tiny.hypernyms(n(6)) == []  # instance hypernyms are left out, as in NLTK's hypernyms()
    assert tiny.instance_hypernyms(n(6)) == [n(3)]
    assert tiny.ancestors(n(4)) == [n(2), n(7), n(1)]
    # two hypernyms named "line": without index.noun by offset, with it by sense number
    assert tiny.hypernyms(n(11)) == [n(9), n(10)]
    (tmp_path / "index.noun").write_text("  1 licence\nline n 2 1 @ 2 0 00000010 00000009  \n")
    assert WordNet.load(tmp_path / "data.noun").hypernyms(n(11)) == [n(10), n(9)]


def test_induced_hierarchy_tiny(tiny: WordNet):
    h = induced_hierarchy([n(4), n(5), n(4)], tiny)
    assert h.nodes == [n(4), n(5), n(2), n(7), n(1)]
    assert h.edges.dtype == np.int64 and h.edges.tolist() == [[0, 2], [0, 3], [1, 2], [2, 4], [3, 4]]
    assert h.edge_wnids()[0] == (n(4), n(2))
    # DGP's stop set: no hypernyms followed above animal; extra nodes appended; all links kept
    h = induced_hierarchy([n(4), n(5)], tiny, stop_at=[n(2)], extra=[n(3), n(2)])
    assert h.nodes == [n(4), n(5), n(2), n(7), n(1), n(3)]
    assert h.edges.tolist() == [[0, 2], [0, 3], [1, 2], [2, 4], [3, 4], [5, 4]]
    h = induced_hierarchy([n(6)], tiny)
    assert h.nodes == [n(6)] and h.edges.shape == (0, 2)
    with pytest.raises(DataError, match="1 classes are not WordNet 3.0 noun synsets .*: n12345678"):
        induced_hierarchy([n(4), "n12345678"], tiny)


def test_wordnet_triples_tiny(tiny: WordNet):
    h = induced_hierarchy([n(4), n(5)], tiny)
    kg = KnowledgeGraph()
    kg.add_triples(wordnet_triples(*h, tiny, comments=True), graph="wordnet")
    view = to_pyg(kg, relations=[SUB])
    assert view.num_nodes == 5 and view.num_edges == 5
    dog = view.node_index[WORDNET_NAMESPACE + n(4)]
    assert view.literals[dog] == ['a canine; "the dog barked"', "dog", "domestic dog"]
    assert to_pyg(kg).num_edges == 5  # labels and comments are literals, not edges


def test_missing_and_malformed_files(tmp_path: Path, monkeypatch):
    with pytest.raises(DataError, match=r"WordNet not found at .*apt-get install wordnet-base"):
        WordNet.load(tmp_path / "nowhere" / "data.noun")
    monkeypatch.setenv("KGZSL_WORDNET", str(tmp_path / "absent.noun"))
    with pytest.raises(DataError, match=r"absent\.noun: install it with `apt-get install wordnet-base`"):
        WordNet.load()
    bad = tmp_path / "data.noun"
    _noun_file(bad, TINY.replace("00000005 05 n 01 cat 0 001", "00000005 05 n 01 cat 0 003"))
    with pytest.raises(DataError, match=r"data\.noun:7: malformed WordNet data line"):
        WordNet.load(bad)
    monkeypatch.setenv("KGZSL_WORDNET", str(tmp_path))
    _noun_file(bad)
    assert len(WordNet.load()) == 11  # $KGZSL_WORDNET, a folder holding data.noun


def test_real_wordnet(wordnet: WordNet):
    assert len(wordnet) == 82_115
    dog = "n02084071"
    assert wordnet.names(dog) == ["dog", "domestic dog", "Canis familiaris"]
    assert wordnet.hypernyms(dog) == ["n02083346", "n01317541"]  # canine.n.02, domestic_animal.n.01
    assert wordnet.ancestors(dog)[-1] == "n00001740"  # entity


def test_dgp_induced_graph_counts(wordnet: WordNet, shared_data: Path):
    folder = shared_data / "imagenet" / "dgp"
    h = dgp_induced_hierarchy(folder, wordnet)
    assert len(h.nodes) == len(set(h.nodes)) == 32_324
    assert len(h.edges) == 32_544
    split = json.loads((folder / "imagenet-split.json").read_text())
    assert h.nodes[:21_842] == split["train"] + split["test"]  # DGP's node order starts with the seeds
    awa2 = json.loads((folder / "awa2-split.json").read_text())
    assert set(awa2["train"] + awa2["test"]) <= set(h.nodes)

    kg = KnowledgeGraph()
    kg.add_triples(wordnet_triples(*h, wordnet), graph="wordnet-dgp")
    view = to_pyg(kg)
    assert view.num_nodes == 32_324 and view.num_edges == 32_544 and view.relation_ids == [SUB]
    expected = {(WORDNET_NAMESPACE + c, WORDNET_NAMESPACE + p) for c, p in h.edge_wnids()}
    src, dst = view.edge_index.tolist()
    assert {(view.node_ids[i], view.node_ids[j]) for i, j in zip(src, dst)} == expected


def test_gcnz_graph_counts(shared_data: Path):
    folder = shared_data / "imagenet" / "gcnz"
    wnids, edge_index = load_gcnz_graph(folder)
    assert len(wnids) == len(set(wnids)) == 32_297
    assert edge_index.shape == (2, 69_744) and edge_index.dtype == np.int64
    # counted independently from the JSON: neighbour lists repeat entries, and are symmetric
    adjacency = json.loads((folder / "imagenet_graph_adjacency.json").read_text())
    raw = [(int(k), v) for k, vs in adjacency.items() for v in vs]
    assert len(raw) == 121_882
    directed = set(raw)
    assert all((b, a) in directed for a, b in directed) and all(a != b for a, b in directed)
    assert set(zip(*edge_index.tolist())) == directed
    undirected = {(min(a, b), max(a, b)) for a, b in directed}
    assert len(undirected) == 34_872
    roots = {i for i, w in enumerate(wnids) if w in GCNZ_ROOTS}
    assert len(roots) == 2 and sum(1 for e in undirected if roots & set(e)) == 2_359

    names = load_gcnz_names(folder)
    kg = KnowledgeGraph()
    kg.add_triples(gcnz_triples(wnids, edge_index, names=names), graph="gcnz")
    view = to_pyg(kg, add_inverse=True)
    assert view.num_nodes == 32_297 and view.num_edges == 69_744
    assert view.relation_ids == [GCNZ_EDGE, GCNZ_EDGE + "^-1"]
    assert (view.edge_type == 0).sum() == 34_872
    assert len(read_gcnz(folder, labels=False)) == 34_872


def test_gcnz_edges_are_wordnet_hypernyms(wordnet: WordNet, shared_data: Path):
    wnids, edge_index = load_gcnz_graph(shared_data / "imagenet" / "gcnz")
    undirected = {(min(a, b), max(a, b)) for a, b in zip(*edge_index.tolist())}
    index = {w: i for i, w in enumerate(wnids)}
    hypernym_links = {
        (min(index[c], index[p]), max(index[c], index[p]))
        for c in wnids
        if c in wordnet
        for p in wordnet.hypernyms(c)
        if p in index
    }
    assert len(hypernym_links) == 32_515
    assert len(undirected & hypernym_links) == 32_513  # all but heifer-cow and bullock-bull
    others = undirected - hypernym_links
    assert len(others) == 2_359 and all({wnids[a], wnids[b]} & set(GCNZ_ROOTS) for a, b in others)
