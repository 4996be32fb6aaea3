"""Map a dataset's class ids to KG entities: by IRI, local name or ``rdfs:label``; never guess."""

from __future__ import annotations

import difflib
import re

from kgzsl.errors import DataError
from kgzsl.knowledge.store import KnowledgeGraph, local_name

__all__ = ["normalize_label", "align_classes"]


def normalize_label(text: str) -> str:
    """Lower case, ``_``/``+``/``-`` as spaces, single spaces: ``Killer+Whale`` → ``killer whale``."""
    return re.sub(r"\s+", " ", re.sub(r"[_+\-]", " ", str(text))).strip().lower()


def align_classes(kg: KnowledgeGraph, class_ids: list[str]) -> list[str]:
    """The IRI of each class in ``class_ids``, in order.

    A class id matches an entity whose IRI equals it, whose local name equals it, or whose
    ``rdfs:label`` equals it after :func:`normalize_label`. A class with no match, or with
    several, is an error that lists the closest candidates.
    """
    rows = kg.query(
        "SELECT DISTINCT ?e ?l WHERE { { ?e a ?t } UNION { ?e <http://www.w3.org/2000/01/rdf-schema#subClassOf> ?t }"
        " OPTIONAL { ?e <http://www.w3.org/2000/01/rdf-schema#label> ?l } FILTER(isIRI(?e)) }"
    )
    index: dict[str, set[str]] = {}
    for iri, label in rows:
        index.setdefault(iri, set()).add(iri)
        index.setdefault(normalize_label(local_name(iri)), set()).add(iri)
        if label:
            for part in str(label).split(","):
                index.setdefault(normalize_label(part), set()).add(iri)
    aligned, problems = [], []
    for cid in class_ids:
        found = index.get(cid) or index.get(normalize_label(cid)) or set()
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
        raise DataError(f"{len(problems)} of {len(class_ids)} classes not in the knowledge graph: {shown}")
    return aligned
