"""Hyper-parameter selection on the validation split (the ``select:`` section of a config).

A config names the values to try for any parameter of the method or the classifier::

    select:
      method.alpha: [-3, -2, -1, 0, 1]                      # a list
      classifier.lr: {grid: log, from: 1.0e-4, to: 1.0e-1, num: 4}   # or a grid
    eval: {select_by: gzsl_h}                               # or gzsl_cs_h, zsl_top1

Grids: ``{grid: log | linear, from: A, to: B, num: N}`` (``N`` values, ends included) and
``{grid: range, from: A, to: B, step: S}`` (integers ``A, A+S, … ≤ B``). The Cartesian product
of all keys is evaluated in the validation stage a run already has — the method is fitted on
the ``train`` split with the ``val`` classes as the unseen ones, and scored on held-out
``train`` images (seen) and the ``val`` classes' images (unseen), with the calibration γ chosen
there for each point — and the best point by ``eval.select_by`` is refitted on ``trainval``.
Ties go to the earlier point in grid order. Test images are never read by any of it.

A method may declare a default grid for its own parameters (``default_select``, e.g. ESZSL's
GBU ranges); it applies when the config names no ``method.*`` key (likewise a classifier's).
``select: {}`` turns selection off. Only ``method.*`` and ``classifier.*`` keys can be selected
(the class semantics are computed once per run).

References: the validation protocol of Xian et al., "Zero-Shot Learning — A Comprehensive
Evaluation of the Good, the Bad and the Ugly", TPAMI 2018.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kgzsl.errors import ConfigError
from kgzsl.registry import REGISTRIES, _suggest, _type_name, check_type, check_value_ranges

__all__ = [
    "SELECTABLE",
    "SELECT_BY",
    "resolve_select",
    "expand_values",
    "grid_points",
    "apply_point",
    "point_label",
    "PointScore",
    "Selection",
    "select_best",
]

#: sections whose parameters ``select:`` may name
SELECTABLE = ("method", "classifier")
#: ``eval.select_by`` → the validation metric it maximises
SELECT_BY = {"gzsl_h": "gzsl/h", "gzsl_cs_h": "gzsl_cs/h", "zsl_top1": "zsl/top1"}


def expand_values(key: str, value: Any) -> list[Any]:
    """The list of values of one ``select:`` entry (a list, or a grid spec); one ConfigError otherwise."""
    where = f"select.{key}"
    if isinstance(value, (list, tuple)):
        if not value:
            raise ConfigError(f"{where}: expected a non-empty list of values, got []")
        return list(value)
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where}: expected a list of values or a grid {{grid: log|linear|range, from: ..., to: ...}}, "
            f"got {type(value).__name__} {value!r}"
        )
    kind = value.get("grid")
    allowed = {"log": {"grid", "from", "to", "num"}, "linear": {"grid", "from", "to", "num"}}
    allowed["range"] = {"grid", "from", "to", "step"}
    if kind not in allowed:
        raise ConfigError(f"{where}.grid: expected log, linear or range, got {kind!r}")
    extra = set(value) - allowed[kind]
    if extra:
        raise ConfigError(
            f"{where}.{sorted(extra)[0]}: unknown key of a {kind} grid; valid: {', '.join(allowed[kind])}"
        )
    for part in ("from", "to"):
        v = value.get(part)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{where}.{part}: expected a number, got {v!r}")
    lo, hi = value["from"], value["to"]
    if kind == "range":
        step = value.get("step", 1)
        ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (lo, hi, step))
        if not ints or step < 1 or hi < lo:
            raise ConfigError(f"{where}: a range grid needs integers from <= to and step >= 1, got {value!r}")
        return list(range(lo, hi + 1, step))
    num = value.get("num")
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise ConfigError(f"{where}.num: expected a positive integer, got {num!r}")
    if kind == "log":
        if lo <= 0 or hi <= 0:
            raise ConfigError(f"{where}: a log grid needs from > 0 and to > 0, got {lo!r} and {hi!r}")
        if num == 1:
            return [float(lo)]
        a, b = math.log10(lo), math.log10(hi)
        return [float(f"{10 ** (a + (b - a) * i / (num - 1)):.6g}") for i in range(num)]
    if num == 1:
        return [float(lo)]
    return [float(f"{lo + (hi - lo) * i / (num - 1):.6g}") for i in range(num)]


def _check_entry(key: str, values: list[Any], cfg: dict[str, Any]) -> None:
    section, param = key.split(".", 1)
    registry = REGISTRIES[section]
    name = cfg[section]["name"]
    accepted = registry.parameters(name)
    if param not in accepted or param == "name":
        valid = ", ".join(k for k in accepted) or "(none)"
        raise ConfigError(
            f"select.{key}: unknown parameter for {registry.family} {name!r}"
            f"{_suggest(param, list(accepted))}; valid: {valid}"
        )
    hint = registry.type_hints(name).get(param, Any)
    for value in values:
        if not check_type(value, hint):
            raise ConfigError(f"select.{key}: expected {_type_name(hint)} values, got {type(value).__name__} {value!r}")
        check_value_ranges({param: value}, f"select.{section}")
    if len(values) != len({repr(v) for v in values}):
        raise ConfigError(f"select.{key}: a value is listed twice in {values!r}")


def resolve_select(spec: Any, cfg: dict[str, Any], warnings: list[str]) -> dict[str, list[Any]]:
    """Check a ``select:`` section against the resolved components and expand it to lists.

    Args:
        spec: the section as written (``None`` when the config has none).
        cfg: the config with its component sections resolved.
        warnings: receives a message for each key of a component the run does not use.

    Returns:
        ``{"method.alpha": [...], ...}`` in a stable order: the config's keys, then the
        components' default grids for components the config names no key of.
    """
    if spec is None:
        spec = {}
        explicit_off = False
    elif not isinstance(spec, dict):
        raise ConfigError(f"select: expected a mapping of key paths to lists, got {type(spec).__name__}")
    else:
        explicit_off = spec == {}
    out: dict[str, list[Any]] = {}
    for key, value in spec.items():
        parts = str(key).split(".")
        if len(parts) != 2 or not all(parts):
            raise ConfigError(f"select.{key}: expected SECTION.PARAMETER, e.g. method.alpha or classifier.lr")
        if parts[0] not in SELECTABLE:
            hint = _suggest(parts[0], list(SELECTABLE))
            raise ConfigError(
                f"select.{key}: only {' and '.join(f'{s}.*' for s in SELECTABLE)} keys can be selected{hint}"
            )
        values = expand_values(key, value)
        if parts[0] == "classifier" and cfg["classifier"] is None:
            method = REGISTRIES["method"].get(cfg["method"]["name"])
            if not getattr(method, "uses_classifier", False):
                warnings.append(f"select.{key}: method {cfg['method']['name']!r} uses no classifier; ignored")
                continue
            cfg["classifier"] = {"name": "softmax", **REGISTRIES["classifier"].defaults("softmax")}
        _check_entry(key, values, cfg)
        out[str(key)] = values
    if explicit_off:
        return out
    named = {k.split(".", 1)[0] for k in spec}
    for section in SELECTABLE:
        if cfg[section] is None or section in named:
            continue
        defaults = getattr(REGISTRIES[section].get(cfg[section]["name"]), "default_select", None) or {}
        for param, values in defaults.items():
            key = param if "." in param else f"{section}.{param}"
            values = expand_values(key, values)
            _check_entry(key, values, cfg)
            out[key] = values
    return out


def grid_points(select: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The Cartesian product of a resolved ``select`` section; ``[{}]`` when it is empty."""
    keys = list(select)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(select[k] for k in keys))]


def apply_point(cfg: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
    """A copy of the resolved ``cfg`` with the values of ``point`` set (``{"method.alpha": 1}``)."""
    out = copy.deepcopy(cfg)
    for key, value in point.items():
        section, param = key.split(".", 1)
        out[section][param] = value
    return out


def point_label(point: dict[str, Any]) -> str:
    """``method.alpha=1,classifier.lr=0.001``; ``default`` for the empty point."""
    return ",".join(f"{k}={v}" for k, v in point.items()) or "default"


@dataclass
class PointScore:
    """The validation figures of one grid point."""

    point: dict[str, Any]
    metrics: dict[str, float]
    gamma: float | None = None
    #: values the method chose itself along its validation fit (``method.selected_``, e.g. a
    #: generative method's ``{"classifier.epochs": 17}``), applied with ``point`` to the trainval fit
    selected: dict[str, Any] = field(default_factory=dict)


@dataclass
class Selection:
    """The outcome of a selection: every point's validation figures and the chosen one.

    Attributes:
        by: the ``eval.select_by`` name (``gzsl_h``, ``gzsl_cs_h`` or ``zsl_top1``).
        scores: one :class:`PointScore` per grid point, in grid order.
        best: index of the chosen point in ``scores``.
    """

    by: str
    scores: list[PointScore] = field(default_factory=list)
    best: int = 0

    @property
    def chosen(self) -> PointScore:
        return self.scores[self.best]

    @property
    def is_search(self) -> bool:
        """Whether there was more than one point (or any key) to choose from."""
        return bool(self.chosen.point)

    def metrics(self) -> dict[str, Any]:
        """Flat keys for ``metrics.json``: ``select/<key>`` (the chosen value), ``select/score``
        and ``select/grid/<point>/<metric>`` for each point (``val`` figures); ``select/<key>``
        of the values the chosen point's fit chose itself (``selected``) as well."""
        number = lambda v: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v  # noqa: E731
        chosen_by_fit = {f"select/{k}": number(v) for k, v in self.chosen.selected.items()}
        if not self.is_search:
            return chosen_by_fit
        key = SELECT_BY[self.by]
        out: dict[str, Any] = {f"select/{k}": number(v) for k, v in self.chosen.point.items()}
        out.update(chosen_by_fit)
        out["select/score"] = float(self.chosen.metrics[key])
        for s in self.scores:
            label = point_label(s.point)
            for metric in ("zsl/top1", "gzsl/h", "gzsl_cs/h"):
                if metric in s.metrics:
                    out[f"select/grid/{label}/val/{metric}"] = float(s.metrics[metric])
        return out

    def table(self) -> str:
        """A markdown table of the grid's validation figures (percent), the chosen row marked,
        and a line with the values the chosen fit chose itself on validation (``selected``)."""
        own = ""
        if self.chosen.selected:
            values = ", ".join(f"{k} = {v}" for k, v in self.chosen.selected.items())
            own = f"Chosen along one training run on the validation split (by {self.by}): {values}"
        if not self.is_search:
            return own
        keys = list(self.chosen.point)
        cols = [("ZSL T1", "zsl/top1"), ("H", "gzsl/h"), ("H (CS)", "gzsl_cs/h")]
        lines = [
            f"**Selection on the validation split (by {self.by}; {len(self.scores)} points; val classes as unseen)**",
            "",
            "| " + " | ".join([*keys, *(c for c, _ in cols), "choice"]) + " |",
            "|" + "|".join(["---:"] * (len(keys) + len(cols)) + ["---"]) + "|",
        ]
        for i, s in enumerate(self.scores):
            cells = [str(s.point[k]) for k in keys]
            cells += [f"{100 * s.metrics[m]:.2f}" if m in s.metrics else "–" for _, m in cols]
            cells.append("chosen" if i == self.best else "")
            lines.append("| " + " | ".join(cells) + " |")
        if own:
            lines += ["", own]
        return "\n".join(lines)


def select_best(
    points: Sequence[dict[str, Any]],
    evaluate: Callable[[dict[str, Any]], PointScore],
    by: str = "gzsl_h",
    context: Any = None,
) -> Selection:
    """Evaluate every point with ``evaluate`` (a validation fit) and pick the best by ``by``.

    Args:
        points: grid points (:func:`grid_points`).
        evaluate: fits and scores one point on the validation split.
        by: a key of :data:`SELECT_BY`.
        context: the run's :class:`~kgzsl.context.RunContext` (for the progress bar over the grid).

    Returns:
        A :class:`Selection`; ties go to the earlier point.
    """
    from kgzsl.context import current_context

    if by not in SELECT_BY:
        raise ConfigError(f"eval.select_by: expected one of {', '.join(SELECT_BY)}, got {by!r}")
    key = SELECT_BY[by]
    bar = current_context(context).bar(points, desc="select on val", unit="point", disable=len(points) < 2)
    scores = [evaluate(point) for point in bar]
    values = [s.metrics.get(key, float("-inf")) for s in scores]
    best = max(range(len(values)), key=lambda i: (values[i], -i))
    return Selection(by=by, scores=scores, best=best)
