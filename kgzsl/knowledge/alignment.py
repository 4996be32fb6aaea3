"""Map a dataset's class ids to KG entities: by IRI, local name or ``rdfs:label``; never guess."""

from __future__ import annotations

import difflib
import re

from kgzsl.errors import DataError
from kgzsl.knowledge.store import KnowledgeGraph, local_name

__all__ = ["CLASS_NAME", "normalize_label", "align_classes"]

#: a dataset class's name as a benchmark's class list gives it (K-ZSL's ``class.json``):
#: alignment prefers these to ``rdfs:label`` names and local names
CLASS_NAME = "https://w3id.org/kgzsl/vocab#className"


def normalize_label(text: str) -> str:
    """Lower case, ``_``/``+``/``-`` as spaces, single spaces: ``Killer+Whale`` → ``killer whale``."""
    return re.sub(r"\s+", " ", re.sub(r"[_+\-]", " ", str(text))).strip().lower()


def _same_as_heads(kg: KnowledgeGraph) -> tuple[dict[str, str], set[str]]:
    """Union-find over ``owl:sameAs`` links: entity → cluster root, and the set of link subjects."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    subjects = set()
    for a, b in kg.query("SELECT ?a ?b WHERE { ?a owl:sameAs ?b FILTER(isIRI(?a) && isIRI(?b)) }"):
        subjects.add(a)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}, subjects


def align_classes(kg: KnowledgeGraph, class_ids: list[str], namespace: str | None = None) -> list[str]:
    """The IRI of each class in ``class_ids``, in order.

    A class id matches an entity whose IRI equals it, whose local name equals it (so WordNet
    ids such as ``n02071294`` match ``...#n02071294``), or one of whose comma-separated
    ``rdfs:label`` names equals it after :func:`normalize_label` (``killer+whale`` →
    ``killer whale``). Candidates that ``owl:sameAs`` makes one entity count once, as the
    subject of the ``owl:sameAs`` link (the KG's own entity, e.g. K-ZSL's ``AwA:n02071294``
    rather than ConceptNet's ``killer_whale``). A class with no match, or with several
    distinct ones, is an error that lists the closest candidates: nothing is guessed.

    Candidates and labels come from the whole knowledge graph (``kg.lookup``): a graph that
    keeps part of a larger one (a K-ZSL semantic setting without labels, a ``relations:``
    filter) still finds its classes by the labels, literals and class lists of the whole.

    Args:
        kg: the knowledge graph.
        class_ids: names, WordNet ids or IRIs.
        namespace: only consider entities whose IRI starts with it.
    """
    if len(kg) == 0:
        raise DataError(
            f"the knowledge graph is empty (e.g. knowledge: {{paths: []}}), so its {len(class_ids)} classes"
            " cannot be found in it; give knowledge files, or use semantics that need none"
        )
    kg = kg.lookup
    rows = kg.query(
        "SELECT DISTINCT ?e ?l WHERE { { ?e a ?t } UNION { ?e rdfs:subClassOf ?t } UNION { ?t rdfs:subClassOf ?e }"
        " UNION { ?e owl:sameAs ?t } OPTIONAL { ?e rdfs:label ?l } FILTER(isIRI(?e)) }"
    )
    # three tiers of evidence, strongest first: the IRI itself; a name the dataset's class
    # list gives (CLASS_NAME); a label or the local name
    exact: dict[str, set[str]] = {}
    declared: dict[str, set[str]] = {}
    index: dict[str, set[str]] = {}
    for iri, label in rows:
        if namespace is not None and not iri.startswith(namespace):
            continue
        exact.setdefault(iri, set()).add(iri)
        index.setdefault(normalize_label(local_name(iri)), set()).add(iri)
        if label:
            for part in str(label).split(","):
                index.setdefault(normalize_label(part), set()).add(iri)
    for iri, name in kg.query(f"SELECT ?e ?n WHERE {{ ?e <{CLASS_NAME}> ?n FILTER(isIRI(?e)) }}"):
        if namespace is None or iri.startswith(namespace):
            declared.setdefault(normalize_label(name), set()).add(iri)
    root, link_subjects = _same_as_heads(kg)

    def collapse(found: set[str]) -> set[str]:
        clusters: dict[str, set[str]] = {}
        for iri in found:
            clusters.setdefault(root.get(iri, iri), set()).add(iri)
        chosen = set()
        for members in clusters.values():
            heads = members & link_subjects
            chosen |= heads if len(members) > 1 and heads else members
        return chosen

    aligned, problems = [], []
    for cid in class_ids:
        found = collapse(
            exact.get(cid)
            or declared.get(normalize_label(cid))
            or index.get(cid)
            or index.get(normalize_label(cid))
            or set()
        )
        if len(found) == 1:
            aligned.append(next(iter(found)))
            continue
        if found:
            problems.append(f"{cid!r} is ambiguous ({', '.join(sorted(found)[:3])})")
        else:
            close = difflib.get_close_matches(normalize_label(cid), [k for k in index if "/" not in k], n=3)
            problems.append(f"{cid!r} not found" + (f" (closest: {', '.join(close)})" if close else ""))
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        hint = "; restrict candidates with namespace=..." if any("ambiguous" in p for p in problems) else ""
        raise DataError(f"{len(problems)} of {len(class_ids)} classes not in the knowledge graph: {shown}{hint}")
    return aligned
