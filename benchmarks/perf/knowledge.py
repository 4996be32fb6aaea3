"""Speed of the knowledge layer: kgzsl's KnowledgeGraph beside rdflib and raw pyoxigraph.

Measured in one process, on the same files:

1. parse a generated N-Triples file (500,000 triples by default) and run two SPARQL queries
   (a GROUP BY count per relation and a two-hop join), with kgzsl, rdflib's default
   in-memory store and raw pyoxigraph;
2. load the K-ZSL AwA knowledge graph (Turtle and CSV) when ``$KGZSL_SHARED_DATA`` is set;
3. build the 32,324-node WordNet graph view (DGP's induced hierarchy) when WordNet is installed.

Goals (issue 3): ≥ 5x faster than rdflib on parse and query, within 1.5x of raw pyoxigraph.
Figures are printed and appended to ``results.csv`` beside this script.

    .venv/bin/python benchmarks/perf/knowledge.py [--triples 500000] [--skip-rdflib]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from results_file import machine, record, today

EX = "http://example.org/bench/"
Q_COUNT = "SELECT ?p (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?p"
Q_JOIN = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?a <{EX}r0> ?b . ?b <{EX}r1> ?c }}"


def generate_ntriples(path: Path, n: int, seed: int = 0) -> None:
    """``n`` triples over n/10 entities and 20 relations, 10% of them with literal objects."""
    rng = np.random.default_rng(seed)
    n_entities = max(10, n // 10)
    s = rng.integers(0, n_entities, n)
    p = rng.integers(0, 20, n)
    o = rng.integers(0, n_entities, n)
    literal = rng.random(n) < 0.1
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            obj = f'"label {o[i]}"' if literal[i] else f"<{EX}e{o[i]}>"
            f.write(f"<{EX}e{s[i]}> <{EX}r{p[i]}> {obj} .\n")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def bench_kgzsl(path: Path) -> dict[str, float]:
    from kgzsl.knowledge.store import KnowledgeGraph

    kg = KnowledgeGraph()
    parse, _ = timed(lambda: kg.load(path))
    q1, r1 = timed(lambda: kg.query(Q_COUNT))
    q2, r2 = timed(lambda: kg.query(Q_JOIN))
    return {"parse": parse, "query_count": q1, "query_join": q2, "n": len(kg), "join": int(r2[0][0]), "rels": len(r1)}


def bench_pyoxigraph(path: Path) -> dict[str, float]:
    import pyoxigraph as ox

    store = ox.Store()
    parse, _ = timed(lambda: store.load(path=str(path), format=ox.RdfFormat.N_TRIPLES))
    q1, r1 = timed(lambda: list(store.query(Q_COUNT)))
    q2, r2 = timed(lambda: list(store.query(Q_JOIN)))
    return {
        "parse": parse,
        "query_count": q1,
        "query_join": q2,
        "n": len(store),
        "join": int(r2[0][0].value),
        "rels": len(r1),
    }


def bench_rdflib(path: Path) -> dict[str, float]:
    import rdflib

    g = rdflib.Graph()
    parse, _ = timed(lambda: g.parse(str(path), format="nt"))
    q1, r1 = timed(lambda: list(g.query(Q_COUNT)))
    q2, r2 = timed(lambda: list(g.query(Q_JOIN)))
    return {"parse": parse, "query_count": q1, "query_join": q2, "n": len(g), "join": int(r2[0][0]), "rels": len(r1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, default=500_000)
    parser.add_argument("--skip-rdflib", action="store_true", help="rdflib takes about a minute at 500k triples")
    args = parser.parse_args()
    date = today()
    host = machine()
    rows: list[list[Any]] = []

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.nt"
        generate_ntriples(path, args.triples)
        results = {"kgzsl": bench_kgzsl(path), "pyoxigraph": bench_pyoxigraph(path)}
        if not args.skip_rdflib:
            results["rdflib"] = bench_rdflib(path)
    counts = {name: (r["n"], r["join"], r["rels"]) for name, r in results.items()}
    assert len(set(counts.values())) == 1, f"the stores disagree: {counts}"
    print(
        f"{args.triples:,} generated N-Triples ({results['kgzsl']['n']:,} distinct), "
        f"join rows {results['kgzsl']['join']:,}"
    )
    print(f"{'step':<14}" + "".join(f"{name:>12}" for name in results) + "   kgzsl vs others")
    for step in ("parse", "query_count", "query_join"):
        k = results["kgzsl"][step]
        ratios = "  ".join(f"{name} {r[step] / k:.1f}x" for name, r in results.items() if name != "kgzsl")
        print(f"{step:<14}" + "".join(f"{r[step]:>11.3f}s" for r in results.values()) + f"   {ratios}")
        for name, r in results.items():
            if name != "kgzsl":
                rows.append(
                    [
                        date,
                        host,
                        f"knowledge.{step}",
                        args.triples,
                        "",
                        f"{k:.3f}",
                        f"{r[step]:.3f}",
                        f"{r[step] / k:.2f}",
                        f"baseline: {name} (ratio = baseline / kgzsl)",
                    ]
                )

    shared = os.environ.get("KGZSL_SHARED_DATA")
    if shared:
        from kgzsl.knowledge.store import KnowledgeGraph

        for name in ("KG-AwA.ttl", "KG-AwA.csv"):
            file = Path(shared) / "kzsl" / "KG" / name
            seconds, kg = timed(lambda file=file: KnowledgeGraph.from_files(file))
            q, _ = timed(kg.relation_counts)
            print(f"K-ZSL AwA {name}: load {seconds:.3f}s, per-relation counts {q:.3f}s ({len(kg):,} triples)")
            rows.append(
                [
                    date,
                    host,
                    f"knowledge.load_kzsl_awa{Path(name).suffix}",
                    len(kg),
                    "",
                    f"{seconds:.3f}",
                    "",
                    "",
                    "K-ZSL AwA KG load + index",
                ]
            )

    if shared and Path(os.environ.get("KGZSL_WORDNET", "/usr/share/wordnet/data.noun")).exists():
        from kgzsl.knowledge.sources import WordNetHierarchy

        seconds, kg = timed(WordNetHierarchy().build)
        view_s, view = timed(lambda: kg.to_pyg(relations=["rdfs:subClassOf"]))
        print(
            f"WordNet DGP graph: parse WordNet + induce + store {seconds:.3f}s, PyG view {view_s:.3f}s "
            f"({view.num_nodes:,} nodes, {view.num_edges:,} edges)"
        )
        rows.append(
            [
                date,
                host,
                "knowledge.wordnet_dgp_graph",
                view.num_nodes,
                "",
                f"{seconds:.3f}",
                "",
                "",
                "WordNet 3.0 parse + DGP induced hierarchy + store",
            ]
        )
        rows.append(
            [
                date,
                host,
                "knowledge.wordnet_pyg_view",
                view.num_edges,
                "",
                f"{view_s:.3f}",
                "",
                "",
                "to_pyg of the 32,324-node graph",
            ]
        )
    record(rows)


if __name__ == "__main__":
    main()
