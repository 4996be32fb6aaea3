"""Summaries of a knowledge graph, as ``kgzsl kg info`` prints them."""

from __future__ import annotations

from typing import Any

from kgzsl.knowledge.store import KnowledgeGraph, local_name

__all__ = ["summarize", "format_summary"]

_CLASS_QUERY = """
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {
  { ?c a owl:Class } UNION { ?c a rdfs:Class } UNION { ?c rdfs:subClassOf ?x } UNION { ?x rdfs:subClassOf ?c }
  FILTER(isIRI(?c))
}"""

# IRIs used as objects that are never described: no triple has them as subject.
_DANGLING_QUERY = """
SELECT DISTINCT ?o WHERE { ?s ?p ?o . FILTER(isIRI(?o)) FILTER NOT EXISTS { ?o ?q ?v } }"""


def summarize(kg: KnowledgeGraph, max_examples: int = 5) -> dict[str, Any]:
    """Triples, sources, entities, classes, relations with counts, and dangling entities."""
    entities = kg.query(
        "SELECT (COUNT(DISTINCT ?e) AS ?n) WHERE { { ?e ?p ?o } UNION { ?s ?p ?e FILTER(isIRI(?e)) } }"
    )[0][0]
    dangling = [row[0] for row in kg.query(_DANGLING_QUERY)]
    return {
        "triples": len(kg),
        "sources": {g: sum(1 for _ in kg.triples(g)) for g in kg.graph_names()},
        "entities": int(entities),
        "classes": int(kg.query(_CLASS_QUERY)[0][0]),
        "relations": kg.relation_counts(),
        "dangling": len(dangling),
        "dangling_examples": sorted(dangling)[:max_examples],
    }


def format_summary(summary: dict[str, Any]) -> str:
    lines = [
        f"triples:   {summary['triples']:,}",
        f"entities:  {summary['entities']:,}",
        f"classes:   {summary['classes']:,}",
        f"relations: {len(summary['relations']):,}",
        f"dangling:  {summary['dangling']:,} entities used as objects but never described"
        + (f" (e.g. {', '.join(local_name(d) for d in summary['dangling_examples'])})" if summary["dangling"] else ""),
        "sources:",
        *(f"  {name:<32} {n:>10,} triples" for name, n in summary["sources"].items()),
        "triples per relation:",
        *(f"  {n:>10,}  {iri}" for iri, n in sorted(summary["relations"].items(), key=lambda kv: (-kv[1], kv[0]))),
    ]
    return "\n".join(lines)
