"""Per-class texts (LLM descriptors, encyclopedia articles) read into RDF literals.

Two layouts:

* ``documents`` (no default extension): a JSON object ``{class name: [texts]}`` (or
  ``{class name: text}``), as the WaffleCLIP/"classification by description" descriptor
  files ``descriptors_cub.json`` have it.
* ``documents-dir`` (pass ``format="documents-dir"``): a folder with one text file per
  class (``<class name>.txt``); the whole file is one text, or each non-blank line is one
  when ``split_lines``. (It is not a folder format of automatic detection: a folder is taken
  as OntoZSL's ``onto_file`` unless the format is given.)

And one for files whose extension is ``.json``:

* ``class-json`` (``.json``): reads a JSON object keyed by class as **class attributes**
  (:func:`~kgzsl.knowledge.formats.attributes.read_attributes_json`) when some value is an
  object or holds numbers, or when every value is a list of strings none of which contains
  whitespace (attribute names are identifiers such as ``thin_tail``, as in K-ZSL's
  ``class-attributes.json``); otherwise as **documents** (descriptors are phrases such as
  ``"a long, hooked bill"``). Name the format to skip the guess.

Triples, with the class IRIs minted as by the attribute formats (so that attributes and
texts of the same dataset meet on the same class IRIs)::

    C a owl:Class ; rdfs:label "class name" ; kgzsl:description "text"@en .

A class with no text (an empty list, an empty string, an empty file) is a
:class:`~kgzsl.errors.DataError` naming the class.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kgzsl.errors import DataError
from kgzsl.knowledge.formats import Triple, read_text, register_format
from kgzsl.knowledge.formats.attributes import (
    VOCAB,
    class_namespaces,
    iri_safe,
    json_triples,
    load_json,
)

__all__ = [
    "read_documents",
    "read_documents_dir",
    "read_class_json",
    "looks_like_attributes",
    "texts_from_json",
    "texts_from_dir",
]

_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
_OWL_CLASS = "http://www.w3.org/2002/07/owl#Class"


def _triples(
    path: Path,
    texts: Mapping[str, list[str]],
    language: str | None,
    namespace: str | None,
    class_namespace: str | None,
) -> Iterator[Triple]:
    import pyoxigraph as ox

    ns = class_namespaces(path, namespace, class_namespace, None)[0]
    rdf_type, label, owl_class = ox.NamedNode(_RDF_TYPE), ox.NamedNode(_RDFS_LABEL), ox.NamedNode(_OWL_CLASS)
    description = ox.NamedNode(VOCAB + "description")
    seen: dict[str, str] = {}
    for name, items in texts.items():
        if not name.strip():
            raise DataError(f"{path}: a class has an empty name")
        iri = ns + iri_safe(name)
        if iri in seen:
            raise DataError(f"{path}: classes {seen[iri]!r} and {name!r} both become <{iri}>")
        seen[iri] = name
        try:
            node = ox.NamedNode(iri)
            literals = [ox.Literal(t, language=language) if language else ox.Literal(t) for t in items]
        except ValueError as e:
            raise DataError(f"{path}: class {name!r}: {e} (check namespace= and language=)") from None
        yield node, rdf_type, owl_class
        yield node, label, ox.Literal(name)
        for literal in literals:
            yield node, description, literal


def texts_from_json(path: Path, data: Any) -> dict[str, list[str]]:
    """``{class: [texts]}`` of parsed JSON ``{class: text}`` or ``{class: [texts]}`` (blank texts dropped).

    Shared with :func:`kgzsl.language.documents.read_documents`.

    Raises:
        DataError: not a non-empty object, a value that is not a text or a list of texts, or a
            class without text (``file: class 'name' ...``).
    """
    if not isinstance(data, dict) or not data:
        raise DataError(f"{path}: expected a non-empty JSON object {{class: [texts]}}")
    texts: dict[str, list[str]] = {}
    for cls, value in data.items():
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
            raise DataError(f"{path}: class {cls!r}: expected a list of texts, found {str(value)[:60]}")
        items = [t for t in items if t.strip()]
        if not items:
            raise DataError(f"{path}: class {cls!r} has no text")
        texts[str(cls)] = items
    return texts


@register_format(
    "documents",
    description="per-class texts as JSON {class: [texts]}; literals kgzsl:description",
)
def read_documents(
    path: Path,
    language: str | None = "en",
    namespace: str | None = None,
    class_namespace: str | None = None,
) -> Iterator[Triple]:
    """Triples of a JSON file of per-class texts.

    Args:
        path: the JSON file.
        language: language tag of the text literals; ``None`` for plain ``xsd:string``.
        namespace: base of the class IRIs (default ``https://w3id.org/kgzsl/data/<folder>/``).
        class_namespace: namespace of the class IRIs (default ``namespace + "class/"``).

    Raises:
        DataError: malformed JSON (``file:line``), a value that is not a list of texts, or
            a class without text (named).
    """
    path = Path(path)
    yield from _json_documents(path, load_json(path), language, namespace, class_namespace)


def _json_documents(
    path: Path,
    data: Any,
    language: str | None = "en",
    namespace: str | None = None,
    class_namespace: str | None = None,
) -> Iterator[Triple]:
    yield from _triples(path, texts_from_json(path, data), language, namespace, class_namespace)


@register_format(
    "documents-dir",
    description="folder of one <class>.txt per class; pass format='documents-dir'",
    is_dir=True,
)
def read_documents_dir(
    path: Path,
    pattern: str = "*.txt",
    split_lines: bool = False,
    language: str | None = "en",
    namespace: str | None = None,
    class_namespace: str | None = None,
) -> Iterator[Triple]:
    """Triples of a folder of per-class text files; the class name is the file's stem.

    Args:
        path: the folder.
        pattern: glob of the text files in it.
        split_lines: one text per non-blank line instead of one per file.
        language, namespace, class_namespace: as for :func:`read_documents` (the default
            namespace takes the name of the folder that holds ``path``).

    Raises:
        DataError: no matching files, a file that is not UTF-8, or an empty one (naming the class).
    """
    path = Path(path)
    yield from _triples(path, texts_from_dir(path, pattern, split_lines), language, namespace, class_namespace)


def texts_from_dir(path: Path, pattern: str = "*.txt", split_lines: bool = False) -> dict[str, list[str]]:
    """``{file stem: [texts]}`` of a folder of per-class text files (see :func:`read_documents_dir`).

    Shared with :func:`kgzsl.language.documents.read_documents`.
    """
    if not path.is_dir():
        raise DataError(f"{path}: expected a folder of per-class text files")
    files = sorted(p for p in path.glob(pattern) if p.is_file())
    if not files:
        raise DataError(f"{path}: no files matching {pattern!r}")
    texts: dict[str, list[str]] = {}
    for file in files:
        content = read_text(file)
        items = [line.strip() for line in content.splitlines()] if split_lines else [content.strip()]
        items = [t for t in items if t]
        if not items:
            raise DataError(f"{file}: class {file.stem!r} has no text (empty file)")
        texts[file.stem] = items
    return texts


def looks_like_attributes(data: Any) -> bool:
    """Whether JSON keyed by class holds attributes rather than texts (see the module docstring)."""
    if not isinstance(data, dict):
        return False
    values = list(data.values())
    if any(isinstance(v, dict) or (isinstance(v, list) and any(isinstance(x, int | float) for x in v)) for v in values):
        return True
    strings = [x for v in values if isinstance(v, list) for x in v if isinstance(x, str)]
    return (
        bool(strings)
        and all(isinstance(v, list) for v in values)
        and not any(any(c.isspace() for c in x) for x in strings)
    )


@register_format(
    "class-json",
    extensions=(".json",),
    description="JSON keyed by class: attributes-json or documents, chosen by content",
)
def read_class_json(path: Path, **options: Any) -> Iterator[Triple]:
    """Triples of a ``.json`` file keyed by class, read as attributes or as documents.

    The rule is :func:`looks_like_attributes`; ``options`` go to the reader it picks.
    """
    path = Path(path)
    data = load_json(path)
    if looks_like_attributes(data):
        yield from json_triples(path, data, **options)
    else:
        yield from _json_documents(path, data, **options)
