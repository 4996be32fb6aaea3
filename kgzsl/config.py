"""Experiment configs: YAML files with one ``{name: ..., params...}`` mapping per component.

A config has the sections ``dataset``, ``knowledge``, ``semantics``, ``method``,
``classifier`` (each a registered component and its parameters), ``train`` and ``eval``
(plain settings)::

    dataset: {name: synthetic_kg, n_features: 256}
    knowledge: {name: files, paths: embedded:animals}
    semantics: {name: kg_attributes, hierarchy: true}
    method: {name: cvae, epochs: 40}
    classifier: {name: softmax}
    train: {seed: 0, device: auto}
    eval: {calibrate: true, select_by: gzsl_h}
    select: {classifier.lr: [0.001, 0.003, 0.01]}

``select`` names hyper-parameters chosen on the validation split (:mod:`kgzsl.selection`).
Unknown sections or keys are errors naming the key path (``method.epochz``), and so are values
outside the range a parameter's name implies (negative epochs, a learning rate of 0, a
fraction above 1; see :func:`kgzsl.registry.check_value_ranges`): all of it is checked by
:func:`resolve` before a run loads any data. ``--set
a.b=value`` overrides a key from the command line (the value is read as YAML, so ``5`` is an
int and ``[1, 2]`` a list). ``--set method.name=X`` swaps the component, dropping the old
one's parameters from the file, and ``--set classifier.epochs=5`` on a config without a
``classifier`` section fills in the default classifier (``softmax``). :func:`resolve` fills in
every default, and the resolved config is what a run saves.

A ``classifier`` section given to a method that uses none (``uses_classifier = False``, e.g.
``eszsl``) is dropped from the resolved config with a warning (printed by the CLI and recorded
in the run's ``meta.json``), so that ``--set method.name=eszsl`` on a config written for a
generative method still runs, and a saved config never shows a classifier that was not used.
A method that uses one and is given none gets the default classifier's section (``softmax`` with
its defaults, what the method would build itself), so that the saved config shows it and
``select`` / the validation stage's ``classifier.epochs`` have a section to set.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from kgzsl.context import check_device
from kgzsl.errors import ConfigError
from kgzsl.registry import REGISTRIES, _suggest, _type_name, check_type

__all__ = [
    "TrainSettings",
    "EvalSettings",
    "SECTIONS",
    "load_config",
    "apply_overrides",
    "resolve",
    "dump_config",
    "default_config_path",
    "DEFAULT_NAMES",
]


@dataclass
class TrainSettings:
    """Settings of the ``train`` section.

    Args:
        seed: seed of every random choice of the run (the dataset has its own ``seed``).
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda[:i]``.
        cache: reuse class embeddings computed before from the same inputs (see
            :mod:`kgzsl.semantics.cache`).
        cache_dir: the cache folder; ``$KGZSL_CACHE`` or ``~/.cache/kgzsl`` by default.
        checkpoint_every: save a resumable training state (models, optimisers, random
            states) every this many epochs inside the staged run, for ``kgzsl run --resume``;
            0 turns checkpoints off. They are removed when the run finishes.
    """

    seed: int = 0
    device: str = "auto"
    cache: bool = True
    cache_dir: str | None = None
    checkpoint_every: int = 1


@dataclass
class EvalSettings:
    """Settings of the ``eval`` section.

    Args:
        calibrate: choose the calibrated-stacking factor γ on the validation split (the
            method is fitted once more, on ``train`` with the ``val`` classes as unseen).
        val_seen_fraction: share of ``train`` images held out as validation images of seen classes.
        hit_k: k of the Hit@k figures (micro-averaged per image, the ImageNet protocol).
        select_by: the validation figure that picks the best point of ``select:`` — ``gzsl_h``
            (GZSL H at γ = 0), ``gzsl_cs_h`` (H after calibrated stacking, γ chosen on the
            validation split for each point) or ``zsl_top1``.
        test_selected: also record, for a generative method, the classifier epoch that is best
            on the *test* images and its figures (``test_selected/*`` keys, a separate table
            in ``results.md``) — what the published codes of tf-VAEGAN, OntoZSL and CE-GZSL
            report. Never the headline: the run's results use the epochs chosen on validation.
    """

    calibrate: bool = True
    val_seen_fraction: float = 0.2
    hit_k: list[int] | None = None
    select_by: Literal["gzsl_h", "gzsl_cs_h", "zsl_top1"] = "gzsl_h"
    test_selected: bool = False


_SETTINGS = {"train": TrainSettings, "eval": EvalSettings}
#: every section, in the order a config is written
SECTIONS = ("dataset", "knowledge", "semantics", "method", "classifier", "train", "eval", "select")
_OPTIONAL = {"knowledge", "classifier", "train", "eval", "select"}
#: the component a section without ``name`` gets (``--set classifier.epochs=5`` alone)
DEFAULT_NAMES = {"classifier": "softmax"}


def default_config_path() -> Path:
    """The embedded default experiment (``kgzsl demo``)."""
    return Path(__file__).resolve().parent / "configs" / "demo.yaml"


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML config; a missing file or a YAML error is one :class:`ConfigError` with file and line."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config ({e.strerror or e})") from None
    if b"\0" in raw:
        line = raw[: raw.index(b"\0")].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not a YAML config (binary data: a NUL byte)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x}); save the config as UTF-8"
        ) from None
    try:
        data = load_yaml(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {e.problem}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {' '.join(str(e).split())}") from None
    if data is None:
        raise ConfigError(f"{path}: config is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of sections, got {type(data).__name__}")
    return data


class ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that ``1e-4`` is a float as in YAML 1.2 (YAML 1.1 wants ``1.0e-4``).

    Learning rates are written that way in every ML config; PyYAML alone reads them as strings.
    """


ConfigLoader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
ConfigLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def load_yaml(text: str) -> Any:
    """A YAML document as kgzsl reads configs (:class:`ConfigLoader`)."""
    return yaml.load(text, Loader=ConfigLoader)  # noqa: S506  (a SafeLoader subclass)


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected KEY.PATH=VALUE, e.g. method.epochs=5")
    key, raw = item.split("=", 1)
    parts = key.strip().split(".")
    if len(parts) < 2 or not all(parts):
        raise ConfigError(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. method.epochs=5")
    if parts[0] == "select":  # select's keys are key paths themselves: select.method.alpha=[1, 2]
        parts = ["select", ".".join(parts[1:])]
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_overrides(config: dict[str, Any], overrides: list[str] | None) -> dict[str, Any]:
    """A copy of ``config`` with ``a.b=value`` overrides applied (validated later by :func:`resolve`)."""
    config = copy.deepcopy(config)
    parsed = [(item, *_parse_override(item)) for item in overrides or []]
    # `--set method.name=X` swaps the component: the old one's parameters from the file no
    # longer apply, so the section starts afresh; name changes go first so that the new
    # component's own `--set` parameters survive whatever their order on the command line
    parsed.sort(key=lambda entry: not (len(entry[1]) == 2 and entry[1][1] == "name"))
    for item, parts, value in parsed:
        if len(parts) == 2 and parts[1] == "name" and parts[0] in REGISTRIES:
            current = config.get(parts[0])
            current_name = current.get("name") if isinstance(current, dict) else current
            if current_name != value:
                config[parts[0]] = {"name": value}
                continue
        if parts[0] not in SECTIONS:
            hint = _suggest(parts[0], list(SECTIONS))
            raise ConfigError(f"--set {item!r}: unknown section {parts[0]!r}{hint}; valid: {', '.join(SECTIONS)}")
        node = config
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: {'.'.join(parts[: i + 1])} is not a mapping")
            node = child
        node[parts[-1]] = value
    return config


def _resolve_component(section: str, spec: Any) -> dict[str, Any] | None:
    if spec is None:
        if section in _OPTIONAL:
            return None
        raise ConfigError(f"{section}: section is required (a mapping with 'name' and parameters)")
    if isinstance(spec, str):  # `method: eszsl` is shorthand for `{name: eszsl}`
        spec = {"name": spec}
    if not isinstance(spec, dict):
        raise ConfigError(f"{section}: expected a mapping with 'name', got {type(spec).__name__}")
    if "name" not in spec and section in DEFAULT_NAMES:
        spec = {"name": DEFAULT_NAMES[section], **spec}
    if "name" not in spec:
        raise ConfigError(f"{section}.name: missing (which {REGISTRIES[section].family} to use)")
    registry = REGISTRIES[section]
    name = spec["name"]
    if not isinstance(name, str):
        raise ConfigError(f"{section}.name: expected str, got {type(name).__name__} {name!r}")
    if name not in registry:
        try:
            registry.get(name)
        except ConfigError as e:
            raise ConfigError(f"{section}.name: {e}") from None
    params = {k: v for k, v in spec.items() if k != "name"}
    registry.check_params(name, params, where=section)
    return {"name": name, **registry.defaults(name), **params}


def _resolve_settings(section: str, spec: Any) -> dict[str, Any]:
    cls = _SETTINGS[section]
    spec = {} if spec is None else spec
    if not isinstance(spec, dict):
        raise ConfigError(f"{section}: expected a mapping, got {type(spec).__name__}")
    import typing

    hints = typing.get_type_hints(cls)
    valid = [f.name for f in fields(cls)]
    for key, value in spec.items():
        if key not in valid:
            raise ConfigError(f"{section}.{key}: unknown key{_suggest(key, valid)}; valid: {', '.join(valid)}")
        if not check_type(value, hints[key]):
            raise ConfigError(
                f"{section}.{key}: expected {_type_name(hints[key])}, got {type(value).__name__} {value!r}"
            )
    out = {f.name: spec.get(f.name, f.default) for f in fields(cls)}
    if section == "train":
        out["device"] = check_device(out["device"], "train.device")
        if out["seed"] < 0:
            raise ConfigError(f"train.seed: expected a value ≥ 0, got {out['seed']}")
        if out["checkpoint_every"] < 0:
            raise ConfigError(f"train.checkpoint_every: expected a value ≥ 0, got {out['checkpoint_every']}")
    if section == "eval":
        if not 0 < out["val_seen_fraction"] < 1:
            raise ConfigError(f"eval.val_seen_fraction: expected a value in (0, 1), got {out['val_seen_fraction']}")
        if out["hit_k"] is not None and any(k < 1 for k in out["hit_k"]):
            raise ConfigError(f"eval.hit_k: expected positive integers, got {out['hit_k']}")
    return out


def _check_knowledge(resolved: dict[str, Any]) -> None:
    """Components that read the knowledge graph need a knowledge source (checked before any work)."""
    knowledge = resolved.get("knowledge")
    empty = knowledge is None or (knowledge.get("name") == "files" and knowledge.get("paths") in ([], ""))
    if not empty:
        return
    for section in ("semantics", "method"):
        spec = resolved.get(section)
        if spec is None:
            continue
        cls = REGISTRIES[section].get(spec["name"])
        needs = cls.requires_knowledge
        hook = getattr(cls, "needs_knowledge", None)
        if callable(hook):
            needs = bool(hook(spec))
        if needs:
            raise ConfigError(
                f"{section}: {spec['name']} reads a knowledge graph, and the config has no knowledge source; "
                "add e.g. knowledge: {name: files, paths: [FILE.ttl]}"
            )


def resolve(config: dict[str, Any], warnings: list[str] | None = None) -> dict[str, Any]:
    """Check every section and key (types and value ranges) and fill in all defaults.

    Nothing is loaded: this is what ``kgzsl validate`` runs, and what a run runs first.

    Args:
        config: the config, as read (or already resolved: resolving is idempotent).
        warnings: if given, messages about parts of the config that are ignored (a
            ``classifier`` section for a method that uses none) are appended to it.

    Returns:
        A new config with every section present (``knowledge`` and ``classifier`` may be
        ``None``; ``select`` maps key paths to the list of values to try, possibly empty) and
        every component parameter filled in.
    """
    from kgzsl.selection import resolve_select

    warnings = [] if warnings is None else warnings
    for key in config:
        if key not in SECTIONS:
            raise ConfigError(
                f"{key}: unknown section{_suggest(str(key), list(SECTIONS))}; valid: {', '.join(SECTIONS)}"
            )
    resolved: dict[str, Any] = {}
    for section in SECTIONS:
        if section in _SETTINGS:
            resolved[section] = _resolve_settings(section, config.get(section))
        elif section != "select":
            resolved[section] = _resolve_component(section, config.get(section))
    _check_knowledge(resolved)
    method = REGISTRIES["method"].get(resolved["method"]["name"])
    if resolved["classifier"] is not None and not getattr(method, "uses_classifier", False):
        warnings.append(
            f"classifier: method {resolved['method']['name']!r} uses no classifier; "
            f"the classifier section ({resolved['classifier']['name']}) is ignored"
        )
        resolved["classifier"] = None
    elif resolved["classifier"] is None and getattr(method, "uses_classifier", False):
        resolved["classifier"] = _resolve_component("classifier", {"name": DEFAULT_NAMES["classifier"]})
    resolved["select"] = resolve_select(config.get("select"), resolved, warnings)
    return resolved


def dump_config(config: dict[str, Any]) -> str:
    """YAML text of a config, sections in their canonical order."""
    ordered = {k: config[k] for k in SECTIONS if k in config}
    return yaml.safe_dump(ordered, sort_keys=False, default_flow_style=False, width=100)
