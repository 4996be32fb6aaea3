"""One registry per component family, filled by decorators.

Every configurable component of kgzsl (datasets, knowledge sources, semantic encoders,
methods, classifiers) is a class registered under a short name::

    @METHODS.register("eszsl")
    class ESZSL(ZSLMethod):
        def __init__(self, alpha: int = 3, gamma: int = 0): ...

    METHODS.build("eszsl", alpha=2)

:meth:`Registry.build` checks the parameters against the constructor's signature and its
type hints *before* building, and on a mistake raises one :class:`~kgzsl.errors.ConfigError`
that names the valid names or parameters. Constructors only store their arguments
(scikit-learn style), so the defaults read from the signature are the component's defaults.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from kgzsl.errors import ConfigError

__all__ = [
    "Component",
    "Registry",
    "DATASETS",
    "KNOWLEDGE",
    "SEMANTICS",
    "METHODS",
    "CLASSIFIERS",
    "REGISTRIES",
    "get_registry",
    "check_value_ranges",
]

T = TypeVar("T")

# Modules whose import fills the registries. Imported lazily, on first use of a registry,
# so that ``import kgzsl`` and ``kgzsl --help`` stay fast (torch is not imported).
_COMPONENT_MODULES = {
    "datasets": [
        "kgzsl.data.synthetic",
        "kgzsl.data.xlsa17",
        "kgzsl.data.kzsl_imagenet",
        "kgzsl.data.arrays",
        "kgzsl.data.folder",
        "kgzsl.data.synthetic_documents",
    ],
    "knowledge": ["kgzsl.knowledge.sources"],
    "semantics": [
        "kgzsl.semantics.attributes",
        "kgzsl.semantics.text",
        "kgzsl.semantics.kge",
        "kgzsl.semantics.ontozsl",
        "kgzsl.semantics.gnn",
        "kgzsl.semantics.rgcn",
    ],
    "methods": [
        "kgzsl.methods.eszsl",
        "kgzsl.methods.cvae",
        "kgzsl.methods.gcnz",
        "kgzsl.methods.dgp",
        "kgzsl.methods.kg_gnn",
        "kgzsl.methods.devise",
        "kgzsl.methods.ale",
        "kgzsl.methods.sje",
        "kgzsl.methods.sae",
        "kgzsl.methods.f_clswgan",
        "kgzsl.methods.ontozsl_gan",
        "kgzsl.methods.mads",
        "kgzsl.methods.cada_vae",
        "kgzsl.methods.ce_gzsl",
        "kgzsl.methods.tf_vaegan",
        "kgzsl.methods.clip_zeroshot",
    ],
    "classifiers": ["kgzsl.classifier"],
}


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def check_type(value: Any, tp: Any) -> bool:
    """Return whether ``value`` matches the (simple) type hint ``tp``.

    Supports the hints configs can carry: ``int``, ``float`` (ints accepted), ``bool``,
    ``str``, ``None``, ``Optional``/unions, ``Literal``, ``list[...]``, ``tuple[...]`` and
    ``dict[...]``. Anything else is accepted as is.
    """
    if tp is Any or tp is inspect.Parameter.empty:
        return True
    if tp is None or tp is type(None):
        return value is None
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return any(check_type(value, arg) for arg in get_args(tp))
    if origin is Literal:
        return value in get_args(tp)
    if origin in (list, tuple, Sequence):
        if not isinstance(value, (list, tuple)):
            return False
        args = get_args(tp)
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            inner = args[0] if args else Any
            return all(check_type(v, inner) for v in value)
        if origin is tuple:
            return len(args) == len(value) and all(check_type(v, a) for v, a in zip(value, args))
        return all(check_type(v, args[0]) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            return False
        args = get_args(tp) or (Any, Any)
        return all(check_type(k, args[0]) and check_type(v, args[1]) for k, v in value.items())
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True


# Value ranges read from parameter names (see :func:`check_value_ranges`): (test, rule text).
def _positive(v: float) -> bool:
    return v > 0


def _non_negative(v: float) -> bool:
    return v >= 0


def _unit(v: float) -> bool:
    return 0 <= v <= 1


_RANGE_RULES: list[tuple[Callable[[str], bool], Callable[[float], bool], str]] = [
    # checked in order; the first rule whose name test matches applies
    (lambda n: n in ("num_workers", "patience") or n.endswith("_warmup"), _non_negative, "≥ 0"),
    (lambda n: n == "seed" or n.endswith("_seed"), _non_negative, "≥ 0"),
    (
        lambda n: (
            n in ("fraction", "dropout", "momentum", "beta1", "beta2")
            or n.endswith(("_fraction", "_ratio", "_dropout"))
        ),
        _unit,
        "in [0, 1]",
    ),
    (
        lambda n: n in ("weight_decay", "regularization", "kl_weight") or n.endswith("_weight_decay"),
        _non_negative,
        "≥ 0",
    ),
    (lambda n: n in ("lr", "learning_rate") or n.endswith("_lr"), _positive, "> 0"),
    (
        lambda n: (
            n in ("epochs", "batch_size", "dim", "k", "layers", "image_size", "eval_every", "max_hops")
            or n.endswith(("_epochs", "_dim", "_images", "_per_class"))
            or n.startswith(("n_", "num_", "hidden", "max_", "min_"))
        ),
        _positive,
        "> 0",
    ),
    (lambda n: n in ("temperature", "scale", "margin") or n.endswith("_margin"), _positive, "> 0"),
]


def check_value_ranges(params: dict[str, Any], where: str) -> None:
    """Raise one :class:`ConfigError` if a numeric parameter is outside the range its name implies.

    Positive: ``epochs``, ``*_epochs``, ``n_*``, ``num_*``, ``batch_size``, ``hidden*``,
    ``*_dim``, ``dim``, ``k``, ``layers``, ``min_*`` / ``max_*``, ``lr`` / ``*_lr``,
    ``temperature``, ``scale``, ``margin``; at least 0: ``weight_decay``, ``seed``,
    ``patience``, ``num_workers``, ``*_warmup``; in [0, 1]: ``fraction`` / ``*_fraction``,
    ``dropout``, ``*_ratio``, ``momentum``, ``beta1``. ``None`` and non-numbers are left to the
    type checks; lists (``hidden: [256, 128]``) are checked element by element.
    """
    for key, value in params.items():
        for matches, ok, text in _RANGE_RULES:
            if not matches(key):
                continue
            items = value if isinstance(value, (list, tuple)) else [value]
            for item in items:
                if isinstance(item, bool) or not isinstance(item, (int, float)):
                    continue
                if item != item or not ok(item):  # NaN fails every rule
                    raise ConfigError(f"{where}.{key}: expected a value {text}, got {value!r}")
            break


def check_files(cls: type, params: dict[str, Any], where: str) -> None:
    """One :class:`ConfigError` for the first of ``cls.file_params`` that names a missing path."""
    import os
    from pathlib import Path

    for key in getattr(cls, "file_params", ()):
        value = params.get(key)
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if not isinstance(item, (str, os.PathLike)) or str(item).startswith("embedded:") or str(item) == "":
                continue
            if not Path(item).expanduser().exists():
                raise ConfigError(f"{where}.{key}: {item}: no such file or folder")


class Component:
    """Mixin of registered components: ``get_params()`` and a ``repr`` from the constructor's arguments.

    Constructors only store their keyword arguments under the same names (scikit-learn style).

    A component may define a classmethod ``check_config(params) -> None`` that raises a
    :class:`~kgzsl.errors.ConfigError` for combinations of parameters the generic checks
    (types, and value ranges read from parameter names) cannot see; configs and
    :meth:`Registry.build` call it before anything is built.
    """

    registry_name: str = ""
    #: parameters naming input files or folders that must exist when given (``None`` and
    #: ``embedded:NAME`` are not checked); checked with the config, before any work
    file_params: tuple[str, ...] = ()
    #: the component reads the run's knowledge graph: a config without a ``knowledge`` source
    #: (or with ``paths: []``) is refused before any work
    requires_knowledge: bool = False

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments, as stored."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # -- learned state (scikit-learn's convention: fitted attributes end with ``_``) ---------
    def state_dict(self) -> dict[str, Any]:
        """The learned state: every public attribute whose name ends with ``_`` (set by fitting).

        Values may be tensors, arrays, ``torch.nn.Module`` objects, nested components or plain
        Python values. Components with other state override this and :meth:`load_state_dict`.
        """
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state written by :meth:`state_dict`."""
        for key, value in state.items():
            setattr(self, key, value)

    def save(self, path: Any, **extra: Any) -> None:
        """Write this component (registered name, parameters and learned state) to ``path``.

        ``extra`` (e.g. the resolved config and the class ids) is stored alongside; see
        :func:`kgzsl.checkpoint.save_component`.
        """
        from kgzsl.checkpoint import save_component

        save_component(self, path, **extra)

    @classmethod
    def load(cls, path: Any, device: Any = None) -> Any:
        """Read a component written by :meth:`save` (built from its own saved parameters)."""
        from kgzsl.checkpoint import load_component

        component, _ = load_component(path, device=device)
        if not isinstance(component, cls):
            raise TypeError(f"{path}: holds a {type(component).__name__}, not a {cls.__name__}")
        return component


class Registry:
    """A named family of components, filled with :meth:`register`.

    Args:
        family: the family's name, as used in configs and ``kgzsl list FAMILY``.
    """

    def __init__(self, family: str) -> None:
        self.family = family
        self._entries: dict[str, type] = {}
        self._loaded = False
        #: names that are not entries but a common mistake → what to write instead (one line);
        #: filled by the component modules, e.g. ``AWA2`` → ``dataset: {name: xlsa17, benchmark: AWA2}``
        self.hints: dict[str, str] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator registering a component under ``name``."""

        def decorator(cls: type[T]) -> type[T]:
            if name in self._entries and self._entries[name] is not cls:
                raise ValueError(f"{self.family} registry already has an entry {name!r}")
            self._entries[name] = cls
            cls.registry_name = name  # type: ignore[attr-defined]
            return cls

        return decorator

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in _COMPONENT_MODULES.get(self.family, []):
                importlib.import_module(module)

    def names(self) -> list[str]:
        """The registered names, sorted."""
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

    def get(self, name: str) -> type:
        """The class registered under ``name``; a :class:`ConfigError` naming the valid ones otherwise."""
        self._load()
        if not isinstance(name, str) or name not in self._entries:
            if isinstance(name, str) and name in self.hints:
                raise ConfigError(f"unknown {self.family} {name!r}: {self.hints[name]}")
            valid = ", ".join(self.names()) or "(none)"
            hint = _suggest(name, self.names()) if isinstance(name, str) else ""
            raise ConfigError(f"unknown {self.family} {name!r}{hint}; valid: {valid}")
        return self._entries[name]

    def parameters(self, name: str) -> dict[str, inspect.Parameter]:
        """The constructor parameters of ``name`` (without ``self``)."""
        cls = self.get(name)
        params = dict(inspect.signature(cls.__init__).parameters)
        params.pop("self", None)
        return {
            k: p
            for k, p in params.items()
            if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        }

    def defaults(self, name: str) -> dict[str, Any]:
        """Default value of every constructor parameter that has one."""
        return {k: p.default for k, p in self.parameters(name).items() if p.default is not inspect.Parameter.empty}

    def type_hints(self, name: str) -> dict[str, Any]:
        """The constructor's type hints. A dataclass component's generated ``__init__`` sees only
        its own module, so fields inherited from a base in another module are resolved on the
        class (each base in its own module)."""
        cls = self.get(name)
        try:
            return typing.get_type_hints(cls.__init__)
        except Exception:
            pass
        try:
            hints = typing.get_type_hints(cls)
        except Exception:  # unresolvable forward references: skip type checks
            return {}
        return {k: v for k, v in hints.items() if k in self.parameters(name)}

    def check_params(self, name: str, params: dict[str, Any], where: str | None = None) -> None:
        """Raise one :class:`ConfigError` if ``params`` don't fit ``name``'s constructor.

        Args:
            name: registered name.
            params: keyword arguments for the constructor.
            where: key path used in messages (``"method"`` gives ``method.lr``).
        """
        where = where or self.family
        accepted = self.parameters(name)
        for key in params:
            if key not in accepted:
                valid = ", ".join(accepted) or "(none)"
                raise ConfigError(
                    f"{where}.{key}: unknown parameter for {self.family} {name!r}"
                    f"{_suggest(key, list(accepted))}; valid: {valid}"
                )
        missing = [k for k, p in accepted.items() if p.default is inspect.Parameter.empty and k not in params]
        if missing:
            raise ConfigError(f"{where}: {self.family} {name!r} needs parameter(s) {', '.join(missing)}")
        hints = self.type_hints(name)
        for key, value in params.items():
            tp = hints.get(key, Any)
            if not check_type(value, tp):
                raise ConfigError(f"{where}.{key}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}")
        check_value_ranges(params, where)
        hook = getattr(self.get(name), "check_config", None)
        if callable(hook):
            # a component's own checks of special cases (e.g. min_images <= max_images), on
            # its parameters with the defaults filled in
            try:
                hook({**self.defaults(name), **params})
            except ConfigError as e:
                message = str(e)
                raise ConfigError(message if message.startswith(where) else f"{where}: {message}") from None

        check_files(self.get(name), {**self.defaults(name), **params}, where)

    def build(self, name: str, /, where: str | None = None, **params: Any) -> Any:
        """Build the component ``name`` with ``params``, checked against its constructor first."""
        self.check_params(name, params, where)
        return self.get(name)(**params)

    def describe(self, name: str) -> str:
        """First docstring line of the component."""
        doc = inspect.getdoc(self.get(name)) or ""
        return doc.splitlines()[0] if doc else ""

    def __repr__(self) -> str:
        return f"Registry({self.family!r}, {self.names()})"


DATASETS = Registry("datasets")
KNOWLEDGE = Registry("knowledge")
SEMANTICS = Registry("semantics")
METHODS = Registry("methods")
CLASSIFIERS = Registry("classifiers")

#: config section → registry
REGISTRIES: dict[str, Registry] = {
    "dataset": DATASETS,
    "knowledge": KNOWLEDGE,
    "semantics": SEMANTICS,
    "method": METHODS,
    "classifier": CLASSIFIERS,
}


def get_registry(family: str) -> Registry:
    """The registry of a family, by family name (``methods``) or config section (``method``)."""
    for section, registry in REGISTRIES.items():
        if family in (section, registry.family):
            return registry
    families = ", ".join(r.family for r in REGISTRIES.values())
    raise ConfigError(f"unknown component family {family!r}; valid: {families}")
