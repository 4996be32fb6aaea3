"""OntoZSL ontology folders (``onto_file/``) read into RDF.

OntoZSL (Geng et al., 2021) ships each ontology as a folder of plain-text files:

* ``all_triples.txt``: ``head<TAB>relation<TAB>tail`` names, one triple per line;
* ``entities.dict`` / ``relations.dict``: ``id<TAB>name`` lines naming every entity and relation;
* optionally ``entities_names.dict`` (``id<TAB>human-readable name``, same ids as
  ``entities.dict``, e.g. ``n02071294`` → ``killer_whale``) and ``all_triples_names.txt``
  (``all_triples.txt`` with those names, line for line).

Every name becomes an IRI in one namespace (default
``https://w3id.org/kgzsl/ontozsl/<dataset>#``, ``<dataset>`` being the folder that holds
``onto_file/``), made IRI-safe by percent-encoding. Well-known relations map to their
RDF/RDFS/OWL IRIs (``subClassOf`` → ``rdfs:subClassOf``, ``sameAs`` → ``owl:sameAs``, ...;
see :data:`WELL_KNOWN_RELATIONS`). The human-readable names become ``rdfs:label`` literals
of the entities, for every entity, when ``entities_names.dict`` (or, without it,
``all_triples_names.txt``) is there.

Every triple's entities and relation must be in the dictionaries, and the two name files
must agree with them; a line that does not is a :class:`~kgzsl.errors.DataError` naming
``file:line``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from kgzsl.errors import DataError
from kgzsl.knowledge.formats import Triple, one_line, read_text, register_format
from kgzsl.knowledge.formats.attributes import iri_safe

__all__ = ["WELL_KNOWN_RELATIONS", "read_ontozsl"]

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RDFS = "http://www.w3.org/2000/01/rdf-schema#"
_OWL = "http://www.w3.org/2002/07/owl#"

#: OntoZSL relation names with a standard meaning, mapped to the standard IRI so that the
#: rest of kgzsl (hierarchies, alignment) sees them; other relations are minted.
WELL_KNOWN_RELATIONS: dict[str, str] = {
    "subClassOf": _RDFS + "subClassOf",
    "subPropertyOf": _RDFS + "subPropertyOf",
    "type": _RDF + "type",
    "sameAs": _OWL + "sameAs",
    "disjointWith": _OWL + "disjointWith",
    "equivalentClass": _OWL + "equivalentClass",
    "equivalentProperty": _OWL + "equivalentProperty",
    "inverseOf": _OWL + "inverseOf",
}

DEFAULT_NAMESPACE = "https://w3id.org/kgzsl/ontozsl/{dataset}#"


def _read_lines(path: Path, columns: int, what: str) -> Iterator[tuple[int, list[str]]]:
    """``(line number, fields)`` of the non-blank lines, each with exactly ``columns`` fields."""
    text = read_text(path)
    found = False
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) != columns or not all(fields):
            raise DataError(
                f"{path}:{lineno}: expected {columns} non-empty tab-separated fields ({what}),"
                f" found {len(fields)}: {one_line(line[:80])!r}"
            )
        found = True
        yield lineno, fields
    if not found:
        raise DataError(f"{path}: file is empty")


def _read_dict(path: Path) -> dict[str, str]:
    """``{id: name}`` of an OntoZSL ``.dict`` file; ids and names must be unique."""
    by_id: dict[str, str] = {}
    seen: dict[str, int] = {}
    for lineno, (key, name) in _read_lines(path, 2, "id, name"):
        if key in by_id:
            raise DataError(f"{path}:{lineno}: id {key!r} given twice")
        if name in seen and not path.name.endswith("_names.dict"):
            raise DataError(f"{path}:{lineno}: name {name!r} already has id on line {seen[name]}")
        by_id[key] = name
        seen.setdefault(name, lineno)
    return by_id


def _folder(path: Path) -> Path:
    if not path.is_dir():
        raise DataError(f"{path}: expected an OntoZSL onto_file folder")
    if not (path / "all_triples.txt").exists() and (path / "onto_file" / "all_triples.txt").exists():
        return path / "onto_file"
    if not (path / "all_triples.txt").exists():
        raise DataError(
            f"{path}: not an OntoZSL onto_file folder (no all_triples.txt);"
            " for a folder of per-class texts pass format='documents-dir'"
        )
    return path


@register_format(
    "ontozsl",
    description="OntoZSL onto_file/ folder: all_triples.txt, entities.dict, relations.dict (+ *_names)",
    is_dir=True,
    detect=lambda p: (p / "entities.dict").is_file() or (p / "onto_file" / "entities.dict").is_file(),
)
def read_ontozsl(
    path: Path,
    namespace: str | None = None,
    labels: bool = True,
    relations: Mapping[str, str] | None = None,
) -> Iterator[Triple]:
    """Triples of an OntoZSL ontology folder.

    Args:
        path: the ``onto_file`` folder, or the folder holding it.
        namespace: namespace of the minted IRIs; default
            ``https://w3id.org/kgzsl/ontozsl/<dataset>#`` where ``<dataset>`` is the name of
            the folder holding ``onto_file`` (or of the folder itself when named otherwise).
        labels: add ``rdfs:label`` literals from ``entities_names.dict`` /
            ``all_triples_names.txt`` when present.
        relations: extra ``{relation name: IRI}`` mappings, on top of
            :data:`WELL_KNOWN_RELATIONS`.

    Yields:
        ``(subject, predicate, object)`` pyoxigraph terms.

    Raises:
        DataError: a missing or empty file, a malformed line, or a name not in the
            dictionaries (``file:line: ...``).
    """
    import pyoxigraph as ox

    folder = _folder(Path(path))
    for name in ("all_triples.txt", "entities.dict", "relations.dict"):
        if not (folder / name).is_file():
            raise DataError(f"{folder}: missing {name}")
    if namespace is None:
        dataset = folder.parent.name if folder.name == "onto_file" else folder.name
        namespace = DEFAULT_NAMESPACE.format(dataset=iri_safe(dataset or "ontology"))
    entity_ids = _read_dict(folder / "entities.dict")
    relation_ids = _read_dict(folder / "relations.dict")
    known_entities = set(entity_ids.values())
    mapped = {**WELL_KNOWN_RELATIONS, **(relations or {})}
    try:
        rel_iri = {r: ox.NamedNode(mapped.get(r, namespace + iri_safe(r))) for r in relation_ids.values()}
        ent_iri = {e: ox.NamedNode(namespace + iri_safe(e)) for e in known_entities}
    except ValueError as e:
        raise DataError(f"{folder}: namespace {namespace!r} does not make valid IRIs: {e}") from None

    triples_path = folder / "all_triples.txt"
    triples: list[tuple[str, str, str]] = []
    for lineno, (head, rel, tail) in _read_lines(triples_path, 3, "head, relation, tail"):
        for role, name, known in (("head", head, known_entities), ("tail", tail, known_entities)):
            if name not in known:
                raise DataError(f"{triples_path}:{lineno}: {role} {name!r} is not in entities.dict")
        if rel not in rel_iri:
            raise DataError(f"{triples_path}:{lineno}: relation {rel!r} is not in relations.dict")
        triples.append((head, rel, tail))
        yield ent_iri[head], rel_iri[rel], ent_iri[tail]

    if labels:
        label = ox.NamedNode(_RDFS + "label")
        for entity, text in _labels(folder, entity_ids, triples).items():
            yield ent_iri[entity], label, ox.Literal(text)


def _labels(folder: Path, entity_ids: dict[str, str], triples: list[tuple[str, str, str]]) -> dict[str, str]:
    """``{entity name: human-readable name}`` from whichever name files the folder has."""
    labels: dict[str, str] = {}
    names_dict = folder / "entities_names.dict"
    if names_dict.is_file():
        names = _read_dict(names_dict)
        for key, entity in entity_ids.items():
            if key not in names:
                raise DataError(f"{names_dict}: no name for id {key!r} ({entity!r} in entities.dict)")
            labels[entity] = names[key]
    names_triples = folder / "all_triples_names.txt"
    if not names_triples.is_file():
        return labels
    rows = list(_read_lines(names_triples, 3, "head, relation, tail"))
    if len(rows) != len(triples):
        raise DataError(f"{names_triples}: {len(rows)} triples, but all_triples.txt has {len(triples)}")
    # Without entities_names.dict the names come from here; with it, they must agree.
    for (lineno, fields), (head, rel, tail) in zip(rows, triples):
        if fields[1] != rel:
            raise DataError(f"{names_triples}:{lineno}: relation {fields[1]!r}, but all_triples.txt has {rel!r}")
        for entity, name in ((head, fields[0]), (tail, fields[2])):
            if labels.setdefault(entity, name) != name:
                raise DataError(
                    f"{names_triples}:{lineno}: {entity!r} is named {name!r} here but {labels[entity]!r}"
                    + (" in entities_names.dict" if names_dict.is_file() else " on an earlier line")
                )
    return labels
