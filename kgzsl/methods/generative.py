"""The base of generative ZSL methods: a generator of unseen-class features feeding the shared classifier.

Feature-generating ZSL (Xian et al., "Feature Generating Networks for Zero-Shot Learning",
CVPR 2018) turns zero-shot learning into supervised learning: a conditional generator learns
``p(x | a)`` from the seen classes, synthesises features of the unseen classes from their
semantics, and an ordinary classifier is trained on real seen and synthetic unseen features.
Comparisons between generators are only fair when everything after the generator is the same,
so :class:`GenerativeMethod` owns it and a method only writes its generator:

* ``fit_generator(task, context)`` trains the generator on the seen classes of ``task`` (whose
  features are already min-max scaled to ``[0, 1]`` with the training statistics, as the
  authors' codes of f-CLSWGAN, OntoZSL, tf-VAEGAN and CE-GZSL do);
* ``generate(semantics, n_per_class, generator)`` samples ``n_per_class`` features for each
  row of ``semantics`` (``[K, d] -> [K * n, D]``, class by class, in the scaled space);
* optionally ``classifier_features(x)``: the features the classifier reads, computed from
  scaled real or synthetic features (identity by default). tf-VAEGAN's ``[x; decoded semantics; decoder hidden]``,
  CE-GZSL's embedding space and CADA-VAE's latent space are such transforms; the base applies
  it to the real, the synthetic and the scored features alike;
* optionally ``classifier_training_set(x, labels, unseen, generator)``: the classifier's
  training features and labels (by default the real seen plus ``n_synthetic`` synthetic
  features per unseen class, through ``classifier_features``). CADA-VAE overrides it: its
  classifier learns on latent samples of the seen images and of the unseen semantics.

The base then (in :meth:`GenerativeMethod.fit`):

1. trains the shared classifier given by the config's ``classifier:`` on the real seen
   features plus ``n_synthetic`` synthetic features per unseen class, over all candidate
   classes (GZSL). ZSL is scored from the same model restricted to the unseen classes
   (the evaluator ranks the unseen columns only), the protocol of the GBU benchmark's
   shared-classifier comparisons; the authors' codes train a second classifier on synthetic
   unseen features alone for ZSL, which kgzsl does not (one model is saved and rescored);
2. in the pipeline's validation stage (``task.val_features`` set: fit on ``train`` with the
   ``val`` classes unseen), scores the validation images after every classifier epoch — GZSL
   H at γ = 0 (``eval.select_by: gzsl_h``), H after calibrated stacking (``gzsl_cs_h``) or ZSL
   top-1 (``zsl_top1``) — keeps the best epoch's weights and records
   ``selected_ = {"classifier.epochs": best}``, which the pipeline applies unchanged to the
   trainval fit. One training run gives every epoch count: the classifier draws one
   permutation per epoch and Adam has no schedule, so its weights after epoch ``k`` of a long
   run are those of a ``k``-epoch run. Test images are never seen;
3. measures the generator's fidelity: a held-out two-sample score (a small network told to
   separate real from synthetic features of the same seen classes, trained on one half and
   scored on the other: 0.5 = indistinguishable, 1.0 = always told apart) as
   ``metrics_["gen/two_sample_acc"]``, and, in a run's final fit (``context.workdir`` set, no
   validation images), a t-SNE of real and synthetic features of a few seen classes
   (``tsne.png``);
4. keeps the per-epoch losses (``train_log_``) and, in a run's final fit, writes them to
   ``train_log.csv`` with a plot ``train_log.png``; every epoch loop shows a progress bar
   with the epoch, the losses and the ETA.

Subclasses' constructors must take (besides their own settings) ``n_synthetic``,
``fidelity``, ``seed`` and ``device``.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from kgzsl.classifier import SoftmaxClassifier
from kgzsl.context import RunContext, derive_seed
from kgzsl.errors import ConfigError
from kgzsl.methods.base import ZSLMethod, ZSLTask, fit_context, seeded

__all__ = [
    "GenerativeMethod",
    "TrainingLoop",
    "two_sample_accuracy",
    "validation_score",
    "write_train_log",
    "plot_tsne",
]

#: format tag of a training-state checkpoint (see :class:`TrainingLoop`)
CHECKPOINT_FORMAT = "kgzsl-training-state/1"


class TrainingLoop:
    """An epoch loop whose state is saved after every epoch and restored on resume.

    A method writes each of its training loops as::

        loop = self._training_loop(context, "generator", self.epochs, desc="f_clswgan",
                                   state={"G": self.generator_, "opt_g": opt_g, ...})
        for epoch in loop:          # 0-based; a resumed fit starts at the saved epoch
            ...                     # one epoch
            self._log(loop, "generator", epoch + 1, loss_g=..., loss_d=...)

    When ``context.checkpoints`` is a folder (the pipeline gives each fit of a run its own,
    inside the staged run), the loop writes ``<stage>.pt`` there after every
    ``context.checkpoint_every``-th epoch and after the last one: the ``state_dict`` of every
    object in ``state`` (modules, optimisers; ``torch.Generator`` states), torch's CPU and CUDA
    random states, NumPy's and Python's, the method's ``train_log_`` so far and the mutable
    dict :attr:`extra` (a step counter, a warm-up weight: whatever the loop carries from one
    epoch to the next). On entering the loop a matching checkpoint is restored, so a fit
    killed at epoch ``k`` and run again continues at ``k`` and ends bit-identical to an
    uninterrupted fit; a checkpoint of the whole loop skips it. A checkpoint made with other
    settings (the method's parameters, the data's shape, the number of epochs) is ignored.
    Files are written atomically (a kill mid-write leaves the previous epoch's).

    Attributes:
        extra: loop-carried values saved with the state (set before or inside the loop).
        start: the epoch the loop (re)started at.
    """

    #: testing hook: called with the number of epochs saved so far after each save
    #: (:func:`kgzsl.testing.interrupt_after` raises from it to simulate a kill)
    after_save: Any = None

    def __init__(
        self,
        method: GenerativeMethod,
        context: RunContext,
        stage: str,
        epochs: int,
        state: dict[str, Any],
        desc: str | None = None,
        key: Any = None,
    ) -> None:
        self.method, self.context, self.stage, self.epochs = method, context, stage, int(epochs)
        self.state = state
        self.desc = desc or f"{method.registry_name} {stage}"
        self.extra: dict[str, Any] = {}
        self.start = 0
        self.bar: Any = None
        folder = context.checkpoints
        self.path = None if folder is None or context.checkpoint_every <= 0 else Path(folder) / f"{stage}.pt"
        self.key = repr((method.registry_name, sorted(method.get_params().items()), stage, self.epochs, key))

    # ---------------------------------------------------------------- iteration
    def __iter__(self) -> Iterator[int]:
        self.start = self._restore()
        self.bar = self.context.bar(
            range(self.start, self.epochs), desc=self.desc, unit="epoch", initial=self.start, total=self.epochs
        )
        every = max(1, int(self.context.checkpoint_every))
        for epoch in self.bar:
            yield epoch
            done = epoch + 1
            if self.path is not None and (done % every == 0 or done == self.epochs):
                self._save(done)
                if TrainingLoop.after_save is not None:
                    TrainingLoop.after_save(self, done)

    def set_postfix(self, values: dict[str, Any], refresh: bool = False) -> None:
        """Show ``values`` on the progress bar (what :meth:`GenerativeMethod._log` calls)."""
        if self.bar is not None and hasattr(self.bar, "set_postfix"):
            self.bar.set_postfix(values, refresh=refresh)

    # ---------------------------------------------------------------- state
    @staticmethod
    def _get(obj: Any) -> Any:
        return obj.get_state() if isinstance(obj, torch.Generator) else obj.state_dict()

    @staticmethod
    def _set(obj: Any, value: Any) -> None:
        if isinstance(obj, torch.Generator):
            obj.set_state(value)
        else:
            obj.load_state_dict(value)

    def _save(self, done: int) -> None:
        import os
        import random

        assert self.path is not None
        payload = {
            "format": CHECKPOINT_FORMAT,
            "key": self.key,
            "epoch": done,
            "state": {name: self._get(obj) for name, obj in self.state.items()},
            "extra": copy.deepcopy(self.extra),
            "train_log": copy.deepcopy(self.method.train_log_),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None,
                "numpy": np.random.get_state(),
                "python": random.getstate(),
            },
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        torch.save(payload, tmp)
        os.replace(tmp, self.path)

    def _restore(self) -> int:
        import random

        if self.path is None or not self.path.is_file():
            return 0
        try:
            payload = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception:  # a damaged file (a full disk): train from the start
            return 0
        if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT or payload["key"] != self.key:
            return 0
        for name, obj in self.state.items():
            self._set(obj, payload["state"][name])
        self.extra.clear()
        self.extra.update(payload["extra"])
        self.method.train_log_[:] = payload["train_log"]
        rng = payload["rng"]
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        np.random.set_state(rng["numpy"])
        random.setstate(rng["python"])
        return int(payload["epoch"])


def validation_score(
    scores: np.ndarray, labels: np.ndarray, seen: np.ndarray, unseen: np.ndarray, select_by: str = "gzsl_h"
) -> float:
    """The validation criterion of one set of scores.

    Args:
        scores: ``[M, C]`` scores of the validation images.
        labels: ``[M]`` their global labels, each in ``seen`` (held-out images of the
            training classes) or ``unseen`` (the validation classes' images).
        seen, unseen: the fitted task's class sets.
        select_by: ``gzsl_h`` (H at γ = 0), ``gzsl_cs_h`` (H after calibrated stacking with γ
            chosen on these same validation images) or ``zsl_top1``.

    Returns:
        The criterion, a fraction in ``[0, 1]``.
    """
    from kgzsl.evaluation import gzsl_accuracy, select_gamma, zsl_accuracy

    is_unseen = np.isin(labels, unseen)
    su, lu = scores[is_unseen], labels[is_unseen]
    if select_by == "zsl_top1" or not (~is_unseen).any():
        return float(zsl_accuracy(su, lu, unseen))
    ss, ls = scores[~is_unseen], labels[~is_unseen]
    gamma = select_gamma(ss, ls, su, lu, seen, unseen) if select_by == "gzsl_cs_h" else 0.0
    return float(gzsl_accuracy(ss, ls, su, lu, seen, unseen, gamma=gamma)["h"])


def two_sample_accuracy(
    real: torch.Tensor,
    fake: torch.Tensor,
    seed: int = 0,
    max_per_side: int = 2000,
    hidden: int = 64,
    steps: int = 300,
) -> float:
    """Held-out accuracy of a small classifier telling ``real`` from ``fake`` rows.

    A classifier two-sample test (Lopez-Paz & Oquab, "Revisiting Classifier Two-Sample
    Tests", ICLR 2017): both sets are subsampled to the same size (at most ``max_per_side``),
    standardised with the statistics of the training half, and a one-hidden-layer network
    (``hidden`` ReLU units, full-batch Adam for ``steps`` steps, on the data's device) is
    trained on half of each and scored on the other halves. 0.5 means the two cannot be told
    apart; 1.0 means every held-out feature is recognised as real or synthetic. A linear
    classifier would not do: features drawn around the right class means with the wrong
    spread (a decoder emitting clean means) have the right mean and no linear boundary.

    Shapes:
        real, fake: ``[N, D]`` and ``[M, D]`` (at least 2 rows each).
    """
    n = min(len(real), len(fake), max_per_side)
    if n < 2:
        raise ValueError("two_sample_accuracy needs at least 2 real and 2 synthetic rows")
    device = real.device
    g = torch.Generator().manual_seed(int(seed))
    r = real.detach().float()[torch.randperm(len(real), generator=g)[:n].to(device)]
    f = fake.detach().float().to(device)[torch.randperm(len(fake), generator=g)[:n].to(device)]
    half = n // 2
    x_train, x_test = torch.cat([r[:half], f[:half]]), torch.cat([r[half:], f[half:]])
    y_train = torch.cat([torch.ones(half), torch.zeros(half)]).to(device)
    y_test = torch.cat([torch.ones(n - half), torch.zeros(n - half)]).to(device)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.enable_grad():
        torch.manual_seed(int(seed))
        net = torch.nn.Sequential(
            torch.nn.Linear(x_train.shape[1], hidden, device=device),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, 1, device=device),
        )
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
        for _ in range(steps):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x_train).squeeze(1), y_train)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    with torch.no_grad():
        predicted = (net(x_test).squeeze(1) > 0).float()
    return float((predicted == y_test).float().mean())


def write_train_log(folder: Any, rows: list[dict[str, Any]], title: str) -> None:
    """Write ``train_log.csv`` (one row per stage and epoch) and its plot ``train_log.png`` to ``folder``.

    The plot has one panel per stage (``generator``, ``pretrain``, ``classifier``), each
    column of that stage's rows against the epoch.
    """
    from pathlib import Path

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from kgzsl.utils import atomic_write_bytes, atomic_write_text

    if not rows:
        return
    folder = Path(folder)
    columns = ["stage", "epoch"]
    for row in rows:
        columns += [k for k in row if k not in columns]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write_text(folder / "train_log.csv", text.getvalue())

    stages = list(dict.fromkeys(r["stage"] for r in rows))
    fig = Figure(figsize=(5 * len(stages), 3.6))
    FigureCanvasAgg(fig)
    for i, stage in enumerate(stages):
        ax = fig.add_subplot(1, len(stages), i + 1)
        part = [r for r in rows if r["stage"] == stage]
        keys = [k for k in columns[2:] if any(k in r for r in part)]
        for key in keys:
            pts = [(r["epoch"], r[key]) for r in part if isinstance(r.get(key), (int, float))]
            if pts:
                ax.plot(*zip(*pts), marker="." if len(pts) < 30 else None, label=key)
        ax.set_title(stage)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    atomic_write_bytes(folder / "train_log.png", buf.getvalue())


def plot_tsne(
    path: Any, real: torch.Tensor, real_labels: torch.Tensor, fake: torch.Tensor, fake_labels: torch.Tensor, **kw: Any
) -> None:
    """A t-SNE (scikit-learn) of real (dots) and synthetic (crosses) features, coloured by class.

    Args:
        path: the PNG file.
        real, fake: ``[N, D]`` and ``[M, D]`` features of the same few classes.
        real_labels, fake_labels: their class indices.
        kw: ``title`` (the figure's title) and ``seed`` (t-SNE's ``random_state``).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from sklearn.manifold import TSNE

    from kgzsl.utils import atomic_write_bytes

    x = torch.cat([real, fake]).detach().float().cpu().numpy()
    y = torch.cat([real_labels, fake_labels]).cpu().numpy()
    is_real = np.r_[np.ones(len(real), bool), np.zeros(len(fake), bool)]
    perplexity = float(max(2.0, min(30.0, (len(x) - 1) / 4)))
    emb = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=int(kw.get("seed", 0)) % 2**31)
    xy = emb.fit_transform(x)
    fig = Figure(figsize=(6.4, 5.4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for i, c in enumerate(np.unique(y)):
        color = f"C{i % 10}"
        m = y == c
        ax.scatter(*xy[m & is_real].T, s=10, c=color, marker="o", alpha=0.7, label=f"{kw.get('names', {}).get(c, c)}")
        ax.scatter(*xy[m & ~is_real].T, s=14, c=color, marker="x", alpha=0.7)
    ax.legend(fontsize=7, title="class (o real, x synthetic)", title_fontsize=7)
    ax.set_title(kw.get("title", "t-SNE of real and synthetic features"), fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    atomic_write_bytes(path, buf.getvalue())


class GenerativeMethod(ZSLMethod):
    """Base of generative ZSL methods: the generator is the subclass's, the classifier the base's.

    See the module docstring for the protocol. Subclasses implement :meth:`fit_generator` and
    :meth:`generate`, and may override :meth:`classifier_features`.

    Attributes (after ``fit``):
        scale_, min_: the min-max transform ``x ↦ x · scale_ + min_`` from the training features.
        semantics_: ``[C, d]`` the class semantics the generator was conditioned on.
        classifier_: the fitted shared classifier (on :meth:`classifier_features` of scaled features).
        train_log_: per-epoch rows ``{"stage", "epoch", <losses>...}`` of every training loop.
        selected_: ``{"classifier.epochs": k}`` chosen on the validation images (validation stage
            only; empty otherwise).
        metrics_: ``{"gen/two_sample_acc": ...}`` (``fidelity`` on).
    """

    uses_classifier = True
    #: how many seen classes the t-SNE shows, and how many features of each side per class
    tsne_classes: int = 6
    tsne_per_class: int = 60

    n_synthetic: int
    fidelity: bool
    seed: int | None
    device: str | None

    # ---------------------------------------------------------------- what a method writes
    def fit_generator(self, task: ZSLTask, context: RunContext) -> None:
        """Train the generator on ``task`` (seen classes; features min-max scaled, on the fit device)."""
        raise NotImplementedError

    def generate(
        self, semantics: torch.Tensor, n_per_class: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n_per_class`` synthetic features for each row of ``semantics``, in the scaled space.

        Args:
            semantics: ``[K, d]`` class semantics on the method's device.
            n_per_class: features per class.
            generator: the torch generator the noise is drawn from (``None``: torch's global one).

        Shapes:
            returns: ``[K * n_per_class, D]``; rows ``k * n … (k + 1) * n - 1`` belong to row ``k``.
        """
        raise NotImplementedError

    def _decode_noise(
        self,
        network: Any,
        noise_dim: int,
        semantics: torch.Tensor,
        n_per_class: int,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``network(z, a)`` with ``z ~ N(0, I)`` of ``noise_dim``, ``n_per_class`` times per row of ``semantics``.

        :meth:`generate` of a conditional generator or decoder (CVAE, f-CLSWGAN, CE-GZSL), on the
        device of the fitted scaler, rows class by class.
        """
        device = self.scale_.device
        a = semantics.to(device, torch.float32).repeat_interleave(int(n_per_class), dim=0)
        z = torch.randn(a.shape[0], int(noise_dim), device=device, generator=generator)
        return network(z, a)

    # ---------------------------------------------------------------- presets
    #: the authors' per-dataset settings (``preset: awa2`` ...): preset → {setting: value}
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}
    #: the value of each preset-able setting when neither the config nor a preset gives one
    DEFAULTS: ClassVar[dict[str, Any]] = {}

    @classmethod
    def check_preset(cls, params: dict[str, Any]) -> None:
        """Reject a ``preset`` this method does not have (call it from ``check_config``)."""
        preset = params.get("preset")
        if preset is not None and preset not in cls.PRESETS:
            raise ConfigError(f"method.preset: expected one of {', '.join(cls.PRESETS)}, got {preset!r}")

    def setting(self, key: str) -> Any:
        """A preset-able setting (a key of :attr:`DEFAULTS`, a parameter left at ``None`` by
        default): the explicit value, else the preset's, else the default."""
        value = getattr(self, key)
        if value is not None:
            return value
        preset = getattr(self, "preset", None)
        if preset is not None:
            self.check_preset({"preset": preset})
            if key in self.PRESETS[preset]:
                return self.PRESETS[preset][key]
        return self.DEFAULTS[key]

    def settings(self) -> dict[str, Any]:
        """Every preset-able setting as it applies (explicit, preset or default)."""
        return {key: self.setting(key) for key in self.DEFAULTS}

    def synthetic_per_class(self) -> int:
        """How many synthetic features per unseen class the classifier gets (``n_synthetic`` as it applies)."""
        return int(self.setting("n_synthetic") if "n_synthetic" in self.DEFAULTS else self.n_synthetic)

    def classifier_features(self, x: torch.Tensor) -> torch.Tensor:
        """The features the classifier reads, from scaled real or synthetic ``x`` (identity here).

        Override in methods whose classifier works in another space (tf-VAEGAN: ``[x; â(x); h(x)]``
        with the semantic decoder's hidden layer; CE-GZSL: the embedding ``h(x)``; CADA-VAE:
        the latent mean). It must be deterministic and work without gradients.

        Shapes:
            x: ``[N, D]`` → ``[N, D']``.
        """
        return x

    @torch.no_grad()
    def classifier_training_set(
        self, x: torch.Tensor, labels: torch.Tensor, unseen: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The shared classifier's training features (in its space) and their global labels.

        Here: :meth:`classifier_features` of the real seen features ``x`` and of
        :meth:`synthetic_per_class` synthetic features per unseen class, drawn from
        ``generator``. Override where the paper builds the set otherwise (CADA-VAE: latent
        samples of the seen images and of the unseen classes' semantics).

        Shapes:
            x: ``[N, D]`` scaled seen features; labels: ``[N]``; unseen: ``[U]`` global indices.
            returns: ``([M, D'], [M])``.
        """
        n_synthetic = self.synthetic_per_class()
        synthetic = self.synthesize(unseen, n_synthetic, generator)
        features = self.classifier_features(torch.cat([x, synthetic]))
        return features, torch.cat([labels, unseen.repeat_interleave(n_synthetic)])

    # ---------------------------------------------------------------- shared machinery
    def transform(self, features: torch.Tensor) -> torch.Tensor:
        """Min-max scale ``features`` with the training statistics (not clipped: test features
        outside the training range stay outside ``[0, 1]``)."""
        return features.to(self.scale_.device, torch.float32) * self.scale_ + self.min_

    def _fit_scaler(self, features: torch.Tensor) -> None:
        lo, hi = features.amin(0), features.amax(0)
        # Constant features get scale 1 rather than a division by zero.
        span = torch.where(hi - lo > 1e-12, hi - lo, torch.ones_like(hi))
        self.scale_ = 1.0 / span
        self.min_ = -lo * self.scale_

    @torch.no_grad()
    def synthesize(
        self, classes: torch.Tensor | Iterable[int], n_per_class: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Synthetic features of the global classes ``classes``, ``n_per_class`` each (scaled space).

        Draws from ``generator``, else torch's global generator (so it repeats after
        ``torch.manual_seed``).

        Shapes:
            classes: ``[K]`` global class indices.
            returns: ``[K * n_per_class, D]``, class by class.
        """
        classes = torch.as_tensor(classes, device=self.semantics_.device).long().flatten()
        return self.generate(self.semantics_[classes], int(n_per_class), generator)

    def _epochs(self, context: RunContext, epochs: int, desc: str) -> Any:
        """A progress bar over ``epochs`` (epoch, losses and ETA; silent when the run's progress is off).

        Not resumable: write training loops with :meth:`_training_loop`.
        """
        return context.bar(range(int(epochs)), desc=desc, unit="epoch")

    def _training_loop(
        self,
        context: RunContext,
        stage: str,
        epochs: int,
        state: dict[str, Any],
        desc: str | None = None,
        key: Any = None,
    ) -> TrainingLoop:
        """A resumable epoch loop over ``epochs`` with a progress bar (see :class:`TrainingLoop`).

        Args:
            context: the fit's context (``context.checkpoints``: where the state goes).
            stage: the loop's name (``generator``, ``pretrain``...), unique within the method.
            epochs: the number of epochs.
            state: the objects whose state the loop saves and restores: modules, optimisers,
                ``torch.Generator`` s (create them before the loop).
            desc: the progress bar's label (default: the method's name and ``stage``).
            key: anything else a checkpoint must match to be restored (the data's shape is
                added by the base).
        """
        shape = tuple(getattr(self, "_fit_shape", ()))
        return TrainingLoop(self, context, stage, epochs, state, desc=desc, key=(shape, key))

    def _log(self, bar: Any, stage: str, epoch: int, **values: float) -> None:
        """Record one epoch's ``values`` in ``train_log_`` and show them on ``bar``."""
        row = {"stage": stage, "epoch": int(epoch), **{k: float(v) for k, v in values.items()}}
        self.train_log_.append(row)
        if isinstance(bar, TrainingLoop):
            bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()})
        elif bar is not None and hasattr(bar, "set_postfix"):
            bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)

    def _generator_for(self, seed: int, *names: object, device: Any) -> torch.Generator:
        g = torch.Generator(device=device)
        g.manual_seed(derive_seed(seed, *names))
        return g

    def fit(self, task: ZSLTask, classifier: Any = None, context: RunContext | None = None) -> GenerativeMethod:
        """Train the generator on the seen classes, then the shared classifier on real + synthetic features.

        Args:
            task: the training task. With ``task.val_features`` (the pipeline's validation
                stage) the classifier's epochs are chosen on them (``selected_``).
            classifier: a shared classifier from :data:`kgzsl.registry.CLASSIFIERS`, trained
                over ``task.candidates``; a default ``SoftmaxClassifier()`` when ``None``.
            context: the run's seed, device, progress setting and work folder (``None``: the
                active run's). With a ``workdir``, ``train_log.csv`` / ``.png`` and ``tsne.png``
                are written there (not by a validation-stage fit, ``task.val_features`` set).

        Returns:
            ``self``.
        """
        ctx, device = fit_context(context, self.device, task.device)
        seed = ctx.seed_for(self.seed)
        features = task.features.to(device, torch.float32)
        labels = task.labels.to(device)
        semantics = task.semantics.to(device, torch.float32)
        unseen = task.unseen.to(device)
        self.train_log_: list[dict[str, Any]] = []
        self.selected_: dict[str, Any] = {}
        self.metrics_: dict[str, float] = {}
        # what a resumable loop's checkpoint must match besides the method's parameters
        self._fit_shape = (*features.shape, *semantics.shape, len(task.seen), len(task.unseen), seed)
        with seeded(seed, device):
            self._fit_scaler(features)
            self.semantics_ = semantics
            x = self.transform(features)
            scaled = dataclasses.replace(task, features=x, labels=labels, semantics=semantics)
            self.fit_generator(scaled, ctx)
            g = self._generator_for(seed, "synthesize", device=device)
            train_x, train_y = self.classifier_training_set(x, labels, unseen, g)
        self.classifier_ = SoftmaxClassifier() if classifier is None else classifier
        on_epoch, finish = self._epoch_selection(task, device)
        # the classifier trains on this method's device unless its own device says otherwise
        fit_kwargs = {"on_epoch": on_epoch} if on_epoch is not None else {}
        self.classifier_.fit(
            train_x,
            train_y,
            task.candidates.to(device),
            task.num_classes,
            context=ctx.with_(seed=seed, device=str(device)).child("classifier"),
            **fit_kwargs,
        )
        finish()
        # the run folder's logs and plots are the final fit's: a validation-stage fit writes none
        write = ctx.workdir is not None and task.val_features is None
        if getattr(self, "fidelity", True):
            self._fidelity(x, labels, task, ctx, seed, device, write)
        if write and self.train_log_:
            kind = " — synthetic features" if task.synthetic_features else ""
            write_train_log(ctx.workdir, self.train_log_, f"{self.registry_name}: training losses per epoch{kind}")
        return self

    def epoch_curve(self, task: ZSLTask, classifier: Any, on_epoch: Any, context: RunContext | None = None) -> None:
        """Train a fresh ``classifier`` on :meth:`fit`'s training set, calling ``on_epoch(epoch, clf)`` per epoch.

        For the ``test_selected`` figures of a run (``eval.test_selected``): what the published
        codes report when they keep the best *test* epoch. ``task`` must be the task this
        method was fitted on; the synthetic features are drawn again from the same seeded
        generator, so the set is the one :meth:`fit` used. The fitted generator and
        classifier are left untouched.
        """
        ctx, device = fit_context(context, self.device, task.device)
        seed = ctx.seed_for(self.seed)
        x = self.transform(task.features.to(device, torch.float32))
        with seeded(seed, device), torch.no_grad():
            g = self._generator_for(seed, "synthesize", device=device)
            train_x, train_y = self.classifier_training_set(x, task.labels.to(device), task.unseen.to(device), g)
        classifier.fit(
            train_x,
            train_y,
            task.candidates.to(device),
            task.num_classes,
            context=ctx.with_(seed=seed, device=str(device)).child("classifier"),
            on_epoch=on_epoch,
        )

    def _epoch_selection(self, task: ZSLTask, device: Any) -> tuple[Any, Any]:
        """The classifier's per-epoch validation hook and what to do after training.

        Returns ``(on_epoch, finish)``: ``on_epoch`` is ``None`` without validation images (or
        with a classifier that takes no ``on_epoch``); ``finish`` restores the best epoch's
        weights and records ``selected_``.
        """
        import inspect

        nothing = (None, lambda: None)
        if task.val_features is None or task.val_labels is None or len(task.val_labels) == 0:
            return nothing
        if "on_epoch" not in inspect.signature(self.classifier_.fit).parameters:
            return nothing
        with torch.no_grad():
            vx = self.classifier_features(self.transform(task.val_features.to(device)))
        vy = task.val_labels.cpu().numpy()
        seen, unseen = task.seen.cpu().numpy(), task.unseen.cpu().numpy()
        best: dict[str, Any] = {"score": float("-inf"), "epoch": 0, "state": None}

        def on_epoch(epoch: int, clf: Any) -> None:
            parts = [clf.decision_function(vx[i : i + 8192]) for i in range(0, len(vx), 8192)]
            scores = torch.cat(parts).float().cpu().numpy()
            value = validation_score(scores, vy, seen, unseen, task.select_by)
            self._log(None, "classifier", epoch, **{f"val_{task.select_by}": value})
            if value > best["score"]:  # ties keep the earlier (shorter) epoch count
                best.update(score=value, epoch=epoch, state=copy.deepcopy(clf.module_.state_dict()))

        def finish() -> None:
            if best["state"] is not None:
                self.classifier_.module_.load_state_dict(best["state"])
                self.selected_ = {"classifier.epochs": int(best["epoch"])}

        return on_epoch, finish

    @torch.no_grad()
    def _fidelity(
        self,
        x: torch.Tensor,
        labels: torch.Tensor,
        task: ZSLTask,
        ctx: RunContext,
        seed: int,
        device: Any,
        write: bool,
    ) -> None:
        """The two-sample score (``metrics_``) and, inside a run, the t-SNE plot (``tsne.png``)."""
        g = self._generator_for(seed, "fidelity", device=device)
        rng = np.random.default_rng(derive_seed(seed, "fidelity"))
        idx = torch.as_tensor(np.sort(rng.permutation(len(x))[:2000]), device=device)
        real, real_y = x[idx], labels[idx]
        fake = self.generate(self.semantics_[real_y], 1, g)  # one synthetic feature per real one, same class
        if len(real) >= 4:
            self.metrics_["gen/two_sample_acc"] = two_sample_accuracy(real, fake, seed=derive_seed(seed, "two-sample"))
        if not write:
            return
        classes = np.unique(labels.cpu().numpy())
        classes = np.sort(rng.permutation(classes)[: self.tsne_classes])
        keep = [torch.nonzero(labels == int(c)).flatten()[: self.tsne_per_class] for c in classes]
        keep_idx = torch.cat(keep)
        r, ry = x[keep_idx], labels[keep_idx]
        cls = torch.as_tensor(classes, device=device)
        f = self.synthesize(cls, self.tsne_per_class, g)
        fy = cls.repeat_interleave(self.tsne_per_class)
        if len(r) + len(f) < 8:
            return
        names = {int(c): task.class_ids[int(c)] for c in classes} if task.class_ids else {}
        kind = " — synthetic features" if task.synthetic_features else ""
        title = f"{self.registry_name}: real (o) and generated (x) features\nt-SNE of {len(classes)} seen classes{kind}"
        plot_tsne(ctx.workdir / "tsne.png", r, ry, f, fy, title=title, seed=seed, names=names)

    @torch.no_grad()
    def decision_function(self, features: torch.Tensor) -> torch.Tensor:
        """The classifier's scores on :meth:`classifier_features` of min-max scaled ``features``.

        Shapes:
            features: ``[N, D]``.
            returns: ``[N, C]``, ``-inf`` outside ``task.candidates``.
        """
        return self.classifier_.decision_function(self.classifier_features(self.transform(features)))
