"""Class–attribute values (xlsa17 ``.mat``, K-ZSL JSON, text matrices) read into RDF.

Three shapes of the same information, a class × attribute matrix:

* ``attributes-mat`` (``.mat``): an xlsa17 ``att_splits.mat``: ``original_att`` (or ``att``)
  is ``[A, C]``, ``allclasses_names`` the ``C`` class names. MATLAB v5 and v7.3 (HDF5) files
  are read by :func:`kgzsl.matlab.read_mat`. A ``[C, A]`` matrix is accepted too (orientation from
  the number of class names; a square one is taken as xlsa17's ``[A, C]``).
* ``attributes-json`` (no default extension): a JSON object keyed by class, whose values are
  lists of attribute names (K-ZSL's ImNet-A ``class-attributes.json``; value 1 each),
  ``{attribute: value}`` objects, or lists of numbers (one per attribute, in
  ``attribute_names`` order).
* ``attributes-matrix`` (no default extension; ``.csv`` is K-ZSL's): a text table with a
  header row of attribute names (its first cell is ignored) and one row per class, the class
  name first; tab-separated when the header has a tab, else comma-separated.

Representation. Each class and each attribute becomes an IRI (classes under
``class_namespace``, attributes under ``attribute_namespace``; by default
``https://w3id.org/kgzsl/data/<folder>/class/<name>`` and ``.../attribute/<name>``, where
``<folder>`` is the name of the folder holding the file and ``<name>`` is the name with
whitespace as ``_``, percent-encoded where an IRI needs it). Then::

    C a owl:Class ; rdfs:label "class name" .
    A rdfs:label "attribute name" .                 # when names are known
    C kgzsl:hasAttribute A .                        # value > threshold
    [] a kgzsl:AttributeValue ;                     # every non-zero, non-NaN value
       kgzsl:class C ; kgzsl:attribute A ; kgzsl:value "0.73"^^xsd:double .

``kgzsl:hasAttribute`` is the binary presence that
:func:`kgzsl.semantics.attributes.class_attribute_matrix` reads; the ``kgzsl:AttributeValue``
nodes keep the values, so that this query gives back the matrix (absent pairs are 0)::

    PREFIX kgzsl: <https://w3id.org/kgzsl/vocab#>
    SELECT ?c ?a ?v WHERE { ?x a kgzsl:AttributeValue ; kgzsl:class ?c ;
                               kgzsl:attribute ?a ; kgzsl:value ?v }

Without attribute names, attributes are named ``a001``, ``a002``, ... in column order (the
ids K-ZSL gives AwA's 85 attributes, in the same order) and get no label. With
``attribute_names`` as a file of ``id<TAB>name`` lines (K-ZSL's ``attribute.txt``) the ids
name the IRIs and the names become labels.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from kgzsl.errors import DataError
from kgzsl.knowledge.formats import Triple, one_line, read_text, register_format

__all__ = [
    "VOCAB",
    "DEFAULT_NAMESPACE",
    "iri_safe",
    "class_namespaces",
    "read_attributes_mat",
    "read_attributes_json",
    "read_attributes_matrix",
    "json_triples",
]

#: The kgzsl vocabulary (``kgzsl:hasAttribute``, ``kgzsl:AttributeValue``, ``kgzsl:description``...).
VOCAB = "https://w3id.org/kgzsl/vocab#"
#: Base of the IRIs minted for classes and attributes of a data file; ``{dataset}`` is the
#: name of the folder that holds the file.
DEFAULT_NAMESPACE = "https://w3id.org/kgzsl/data/{dataset}/"

_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
_OWL_CLASS = "http://www.w3.org/2002/07/owl#Class"
_XSD_DOUBLE = "http://www.w3.org/2001/XMLSchema#double"

# RFC 3987 allows these in a path or fragment; everything else is percent-encoded, so any
# name makes a valid IRI and the rdfs:label keeps the name as written.
_IRI_SAFE = "-._~!$&'()*+,;=:@"


def iri_safe(name: str) -> str:
    """``name`` as an IRI path segment: whitespace runs as ``_``, then percent-encoded."""
    return quote(re.sub(r"\s+", "_", name.strip()), safe=_IRI_SAFE)


def class_namespaces(
    path: Path, namespace: str | None, class_namespace: str | None, attribute_namespace: str | None
) -> tuple[str, str]:
    """``(class namespace, attribute namespace)`` from the options and the file's folder."""
    if namespace is None:
        namespace = DEFAULT_NAMESPACE.format(dataset=iri_safe(path.resolve().parent.name or "data"))
    return class_namespace or namespace + "class/", attribute_namespace or namespace + "attribute/"


def load_json(path: Path) -> Any:
    """The parsed JSON of ``path``; a syntax error names the file and line."""
    if not path.is_file():
        raise DataError(f"{path}: expected a JSON file")
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: malformed JSON: {e.msg}") from None
    except RecursionError:
        raise DataError(f"{path}: malformed JSON: nested too deeply") from None


def _named(ox: Any, iri: str, path: Path) -> Any:
    try:
        return ox.NamedNode(iri)
    except ValueError as e:
        raise DataError(f"{path}: {iri!r} is not a valid IRI (check the namespace options): {e}") from None


def _mint(ox: Any, namespace: str, names: Sequence[str], path: Path, what: str) -> list[Any]:
    """IRIs for ``names``; two names that become the same IRI are an error, not a merge."""
    iris, seen = [], {}
    for name in names:
        if not name.strip():
            raise DataError(f"{path}: empty {what} name")
        iri = namespace + iri_safe(name)
        if iri in seen:
            plural = "classes" if what == "class" else what + "s"
            raise DataError(f"{path}: {plural} {seen[iri]!r} and {name!r} both become <{iri}>")
        seen[iri] = name
        iris.append(_named(ox, iri, path))
    return iris


# --- attribute names --------------------------------------------------------------------


def _read_names(source: str | os.PathLike | Sequence[str] | Mapping[str, str]) -> list[tuple[str, str]]:
    """``[(id, name)]`` from a list of names, an ``{id: name}`` mapping, or a file.

    A file has one name per line, or ``id<TAB>name`` on every line (K-ZSL's ``attribute.txt``).
    """
    if isinstance(source, Mapping):
        return [(str(k), str(v)) for k, v in source.items()]
    if not isinstance(source, str | os.PathLike):
        return [(str(n), str(n)) for n in source]
    path = Path(source)
    if not path.is_file():
        raise DataError(f"{path}: attribute names file not found")
    lines = [(i, line.strip()) for i, line in enumerate(read_text(path).splitlines(), 1)]
    lines = [(i, line) for i, line in lines if line]
    if not lines:
        raise DataError(f"{path}: attribute names file is empty")
    if not any("\t" in line for _, line in lines):
        return [(line, line) for _, line in lines]
    pairs = []
    for lineno, line in lines:
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) != 2 or not all(fields):
            raise DataError(f"{path}:{lineno}: expected 'id<TAB>name', found {one_line(line[:80])!r}")
        pairs.append((fields[0], fields[1]))
    return pairs


def _positional_names(attribute_names: Any, count: int, where: str) -> tuple[list[str], list[str | None]]:
    """``(ids, labels)`` of ``count`` attribute columns."""
    if attribute_names is None:
        width = max(3, len(str(count)))
        return [f"a{j + 1:0{width}d}" for j in range(count)], [None] * count
    pairs = _read_names(attribute_names)
    if len(pairs) != count:
        raise DataError(
            f"{where}: {len(pairs)} attribute names for {count} attributes"
            " (give exactly one name per column, in column order)"
        )
    return [k for k, _ in pairs], [v for _, v in pairs]


# --- the triples --------------------------------------------------------------------------


def _triples(
    path: Path,
    classes: Sequence[str],
    attribute_ids: Sequence[str],
    attribute_labels: Sequence[str | None],
    matrix: np.ndarray,
    threshold: float,
    namespaces: tuple[str, str],
) -> Iterator[Triple]:
    """The triples of a ``[C, A]`` matrix (see the module docstring)."""
    import pyoxigraph as ox

    class_iris = _mint(ox, namespaces[0], classes, path, "class")
    attr_iris = _mint(ox, namespaces[1], attribute_ids, path, "attribute")
    rdf_type, label, owl_class = ox.NamedNode(_RDF_TYPE), ox.NamedNode(_RDFS_LABEL), ox.NamedNode(_OWL_CLASS)
    has, value_type = ox.NamedNode(VOCAB + "hasAttribute"), ox.NamedNode(VOCAB + "AttributeValue")
    of_class, of_attr, value = (ox.NamedNode(VOCAB + n) for n in ("class", "attribute", "value"))
    double = ox.NamedNode(_XSD_DOUBLE)
    for iri, name in zip(class_iris, classes):
        yield iri, rdf_type, owl_class
        yield iri, label, ox.Literal(name)
    for iri, name in zip(attr_iris, attribute_labels):
        if name is not None:
            yield iri, label, ox.Literal(name)
    # NaN is a missing value: no statement, like 0.
    for i, j in zip(*np.nonzero(np.where(np.isnan(matrix), 0.0, matrix))):
        v = float(matrix[i, j])
        node = ox.BlankNode()
        yield node, rdf_type, value_type
        yield node, of_class, class_iris[i]
        yield node, of_attr, attr_iris[j]
        lexical = repr(v) if np.isfinite(v) else ("INF" if v > 0 else "-INF")  # xsd:double's spelling
        yield node, value, ox.Literal(lexical, datatype=double)
        if v > threshold:
            yield class_iris[i], has, attr_iris[j]


def _check_matrix(matrix: Any, path: Path, key: str) -> np.ndarray:
    array = np.asarray(matrix)
    if array.ndim != 2 or array.size == 0 or array.dtype.kind not in "biuf":
        raise DataError(f"{path}: {key!r} is not a 2-D numeric matrix (found {array.dtype} {array.shape})")
    return array.astype(np.float64)


# --- .mat ----------------------------------------------------------------------------------


def _load_mat(path: Path, keys: Sequence[str]) -> dict[str, Any]:
    """The variables ``keys`` (those present) of a MATLAB file, v5 or v7.3 (:func:`kgzsl.matlab.read_mat`).

    Names come back as a list of stripped strings, whether stored as a cell array of strings or
    as a char matrix (one name a row).
    """
    from kgzsl.matlab import read_mat

    data = read_mat(path, [], optional=keys)
    return {k: [s.strip() for s in ([v] if isinstance(v, str) else v)] if _is_text(v) else v for k, v in data.items()}


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))


@register_format(
    "attributes-mat",
    extensions=(".mat",),
    description="class-attribute matrix of an xlsa17 att_splits.mat (original_att or att, allclasses_names)",
)
def read_attributes_mat(
    path: Path,
    key: str = "original_att",
    classes_key: str = "allclasses_names",
    attribute_names: str | os.PathLike | Sequence[str] | Mapping[str, str] | None = None,
    threshold: float = 0.0,
    namespace: str | None = None,
    class_namespace: str | None = None,
    attribute_namespace: str | None = None,
) -> Iterator[Triple]:
    """Triples of the class–attribute matrix in a MATLAB file.

    Args:
        path: the ``.mat`` file.
        key: the matrix variable (``original_att``: xlsa17's raw values; ``att``: normalised).
        classes_key: the variable with the class names.
        attribute_names: names of the attribute columns, in order: a list, an ``{id: name}``
            mapping, or a file (one name per line, or ``id<TAB>name`` lines).
        threshold: a value above it means the class has the attribute (``kgzsl:hasAttribute``).
        namespace: base of the minted IRIs (see the module docstring).
        class_namespace: namespace of the class IRIs (default ``namespace + "class/"``).
        attribute_namespace: namespace of the attribute IRIs (default ``namespace + "attribute/"``).

    Raises:
        DataError: a missing variable (named), a matrix whose shape does not fit the class
            names, or names that do not fit the columns.
    """
    path = Path(path)
    data = _load_mat(path, [key, classes_key])
    for name in (key, classes_key):
        if name not in data:
            raise DataError(f"{path}: no variable {name!r} (pass key=/classes_key= to name another)")
    matrix = _check_matrix(data[key], path, key)
    classes = data[classes_key]
    if not isinstance(classes, list):
        raise DataError(f"{path}: {classes_key!r} is not a list of names (found {np.asarray(classes).dtype})")
    if matrix.shape[1] != len(classes):
        if matrix.shape[0] != len(classes):
            shape = "×".join(map(str, matrix.shape))
            raise DataError(f"{path}: {key!r} is {shape}, which does not fit {len(classes)} classes")
        matrix = matrix.T  # given as [C, A]
    ids, labels = _positional_names(attribute_names, matrix.shape[0], f"{path}: {key!r}")
    namespaces = class_namespaces(path, namespace, class_namespace, attribute_namespace)
    yield from _triples(path, classes, ids, labels, matrix.T, threshold, namespaces)


# --- JSON ---------------------------------------------------------------------------------


def json_triples(
    path: Path,
    data: Any,
    attribute_names: str | os.PathLike | Sequence[str] | Mapping[str, str] | None = None,
    threshold: float = 0.0,
    namespace: str | None = None,
    class_namespace: str | None = None,
    attribute_namespace: str | None = None,
) -> Iterator[Triple]:
    """Triples of already-parsed class–attribute JSON (see :func:`read_attributes_json`)."""
    if not isinstance(data, dict) or not data:
        raise DataError(f"{path}: expected a non-empty JSON object {{class: attributes}}")
    classes = [str(c) for c in data]
    values = list(data.values())
    numbers = (int, float)
    if all(isinstance(v, list) and all(isinstance(x, numbers) and not isinstance(x, bool) for x in v) for v in values):
        if not any(values) or len({len(v) for v in values}) != 1:
            raise DataError(f"{path}: lists of numbers must all have the same, non-zero length")
        matrix = np.array(values, dtype=np.float64)
        ids, labels = _positional_names(attribute_names, matrix.shape[1], str(path))
    else:
        # Names (value 1) or {name: value}: columns are the vocabulary of attribute_names
        # when given (so its ids name the IRIs), else the names in order of appearance.
        rows: list[dict[str, float]] = []
        for cls, value in data.items():
            if isinstance(value, list) and all(isinstance(x, str) for x in value):
                rows.append(dict.fromkeys(value, 1.0))
            elif isinstance(value, dict) and all(
                isinstance(x, numbers) and not isinstance(x, bool) for x in value.values()
            ):
                rows.append({str(k): float(x) for k, x in value.items()})
            else:
                raise DataError(
                    f"{path}: class {cls!r}: expected a list of attribute names, an object"
                    f" {{attribute: number}} or a list of numbers, found {json.dumps(value)[:60]}"
                )
        used = list(dict.fromkeys(name for row in rows for name in row))
        if attribute_names is None:
            ids, labels = used, list(used)
        else:
            vocabulary = {name: key for key, name in _read_names(attribute_names)}
            unknown = [n for n in used if n not in vocabulary]
            if unknown:
                cls = next(c for c, row in zip(classes, rows) if unknown[0] in row)
                raise DataError(f"{path}: class {cls!r}: attribute {unknown[0]!r} is not in attribute_names")
            used = [n for n in vocabulary if n in set(used)]
            ids, labels = [vocabulary[n] for n in used], used
        column = {name: j for j, name in enumerate(labels)}
        matrix = np.zeros((len(classes), len(used)), dtype=np.float64)
        for i, row in enumerate(rows):
            for name, v in row.items():
                matrix[i, column[name]] = v
    namespaces = class_namespaces(path, namespace, class_namespace, attribute_namespace)
    yield from _triples(path, classes, ids, labels, matrix, threshold, namespaces)


@register_format(
    "attributes-json",
    description="class-attribute JSON: {class: [attribute names]}, {class: {attribute: value}} or {class: [values]}",
)
def read_attributes_json(
    path: Path,
    attribute_names: str | os.PathLike | Sequence[str] | Mapping[str, str] | None = None,
    threshold: float = 0.0,
    namespace: str | None = None,
    class_namespace: str | None = None,
    attribute_namespace: str | None = None,
) -> Iterator[Triple]:
    """Triples of a JSON object keyed by class (K-ZSL ``class-attributes.json``).

    Args:
        path: the JSON file.
        attribute_names: for lists of numbers, the names of the positions; for names, the
            vocabulary they must come from (with ``id<TAB>name`` lines, the ids name the IRIs).
        threshold, namespace, class_namespace, attribute_namespace: as for
            :func:`read_attributes_mat`.
    """
    path = Path(path)
    yield from json_triples(
        path, load_json(path), attribute_names, threshold, namespace, class_namespace, attribute_namespace
    )


# --- text matrix -------------------------------------------------------------------------


@register_format(
    "attributes-matrix",
    description="class × attribute table (header of attribute names, class name first); pass the format",
)
def read_attributes_matrix(
    path: Path,
    delimiter: str | None = None,
    threshold: float = 0.0,
    namespace: str | None = None,
    class_namespace: str | None = None,
    attribute_namespace: str | None = None,
) -> Iterator[Triple]:
    """Triples of a class × attribute text table.

    Args:
        path: the file.
        delimiter: the field separator; by default a tab when the header has one, else a comma.
        threshold, namespace, class_namespace, attribute_namespace: as for
            :func:`read_attributes_mat`.

    Raises:
        DataError: a row of the wrong length or a value that is not a number (``file:line``),
            or a table with no rows.
    """
    import csv

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: expected a text file")
    lines = read_text(path).splitlines()
    numbered = [(i, line) for i, line in enumerate(lines, 1) if line.strip()]
    if not numbered:
        raise DataError(f"{path}: file is empty")
    if delimiter is None:
        delimiter = "\t" if "\t" in numbered[0][1] else ","
    rows = list(csv.reader([line for _, line in numbered], delimiter=delimiter))
    header = [h.strip() for h in rows[0][1:]]
    if not header or not all(header):
        raise DataError(f"{path}:{numbered[0][0]}: expected a header row of attribute names after a first cell")
    if len(rows) < 2:
        raise DataError(f"{path}: no class rows after the header")
    classes, matrix = [], np.zeros((len(rows) - 1, len(header)), dtype=np.float64)
    for i, ((lineno, line), row) in enumerate(zip(numbered[1:], rows[1:])):
        if len(row) != len(header) + 1:
            raise DataError(
                f"{path}:{lineno}: expected {len(header) + 1} fields (class and {len(header)} values),"
                f" found {len(row)}: {one_line(line[:80])!r}"
            )
        classes.append(row[0].strip())
        for j, cell in enumerate(row[1:]):
            try:
                matrix[i, j] = float(cell)
            except ValueError:
                raise DataError(
                    f"{path}:{lineno}: expected a number for attribute {header[j]!r}, found {cell!r}"
                ) from None
    namespaces = class_namespaces(path, namespace, class_namespace, attribute_namespace)
    yield from _triples(path, classes, header, header, matrix, threshold, namespaces)
