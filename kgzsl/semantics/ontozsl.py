"""OntoZSL's ontology encoder, and class embeddings read from a file.

``ontozsl``: Geng et al., "OntoZSL: Ontology-enhanced Zero-shot Learning", WWW 2021, sec. 3.1
(the "ontology encoder"). Two stages, as in the authors' code (``code/OntoEncoder``):

1. **Structure**: TransE (``f = -‖h̄ + r - t̄‖₁``) over the ontology's triples, trained by
   :func:`~kgzsl.semantics.kge.fit_kge` (early stopping, link-prediction MRR on held-out
   triples). Its entity vectors ``sₑ`` and relation vectors ``r`` are then frozen.
2. **Text-aware mapping**: each entity's text (its ``rdfs:label`` names, or its literals,
   found where the KG keeps them: :func:`kgzsl.knowledge.texts.entity_texts`; else its
   local name, with a warning) embedded as ``xₑ`` (averaged word vectors, as in the paper, or
   sentence embeddings); two one-layer maps into a shared ``m``-d space,

   ``Sₑ = tanh(W_s sₑ + b_s)``, ``R = tanh(W_s r + b_s)`` (the same map for entities and
   relations, as in the authors' code), ``Tₑ = tanh(W_t xₑ + b_t)``,

   trained so that a triple holds whichever of its ends is given by structure or by text:

   ``E(h, r, t) = Σ_{a, b ∈ {S, T}} ‖hₐ + R - t_b‖₁ + ‖(h_S + h_T) + R - (t_S + t_T)‖₁``

   with the margin ranking loss over a corrupted tail ``t'`` and a corrupted head ``h'``,
   ``[γ + E(h, r, t) - E(h, r, t')]₊ + [γ + E(h, r, t) - E(h', r, t)]₊`` (``γ = 10``).
   The cross terms (``h_T + R ≈ t_S`` ...) are what ties an entity's text to its structure.

A class's embedding is ``[S_c ; T_c]`` (``2m``-d, 200 in the paper), the class found by
:func:`~kgzsl.knowledge.alignment.align_classes`.

``precomputed``: class embeddings from a ``.mat``, ``.npy`` or ``.npz`` file (e.g. OntoZSL's
released ``o2v-awa.mat``), rows matched to the dataset's classes by id.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote

import numpy as np

from kgzsl.errors import ConfigError, DataError
from kgzsl.knowledge.alignment import normalize_label
from kgzsl.knowledge.store import local_name
from kgzsl.registry import SEMANTICS
from kgzsl.semantics.base import ClassEmbeddings, SemanticEncoder, normalize_rows
from kgzsl.semantics.kge import class_triples, fit_kge
from kgzsl.semantics.text import read_word_vectors, tokenize_words

if TYPE_CHECKING:
    import torch

    from kgzsl.context import RunContext
    from kgzsl.data.dataset import ZSLDataset
    from kgzsl.knowledge.store import KnowledgeGraph

__all__ = ["OntoZSL", "PrecomputedEmbeddings", "entity_texts", "text_aware_energy"]

_RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"

#: ids keys looked for in a ``.mat``/``.npz`` when ``ids`` is not given (OntoZSL's ImageNet
#: ``o2v`` files store ``wnids`` beside the matrix)
_ID_KEYS = ("ids", "class_ids", "wnids", "allclasses_names", "classes", "names")


def entity_texts(
    kg: KnowledgeGraph, node_ids: list[str], texts: Literal["label", "literals"] = "label"
) -> tuple[list[list[str]], int]:
    """Each node's texts, found where the KG keeps them (:func:`kgzsl.knowledge.texts.entity_texts`:
    labels, class-list names, literals, ``owl:sameAs`` partners' labels, names of ConceptNet-style
    IRIs), else its readable local name (``musteline_mammal`` → ``musteline mammal``), as the
    authors embed the entity names of ``entities_names.dict``; a blank node has none.

    Returns:
        ``(sorted unique texts per node in node_ids order, number of nodes that fell back)``.
    """
    from kgzsl.knowledge.texts import entity_texts as find_texts

    found = find_texts(kg, node_ids, texts)
    return found.texts, found.fell_back


def text_aware_energy(
    h_s: torch.Tensor, h_t: torch.Tensor, r: torch.Tensor, t_s: torch.Tensor, t_t: torch.Tensor
) -> torch.Tensor:
    """OntoZSL's text-aware TransE energy (lower is more plausible), every end mapped already.

    ``E = Σ_{a, b ∈ {s, t}} ‖hₐ + r - t_b‖₁ + ‖(h_s + h_t) + r - (t_s + t_t)‖₁``

    Shapes:
        all inputs: ``[B, m]`` (or broadcastable); returns: ``[B]``.
    """
    energy = (h_s + h_t + r - t_s - t_t).abs().sum(-1)
    for h in (h_s, h_t):
        for t in (t_s, t_t):
            energy = energy + (h + r - t).abs().sum(-1)
    return energy


@SEMANTICS.register("ontozsl")
class OntoZSL(SemanticEncoder):
    """OntoZSL's ontology encoder: TransE structure + text-aware mapping, concatenated.

    Geng et al., "OntoZSL: Ontology-enhanced Zero-shot Learning", WWW 2021 (see the module
    docstring for the maths). The paper's settings: TransE with 100-d entities and relations,
    averaged 300-d GloVe vectors of the entity names, mapping size 100, margin 10, Adam
    (lr 1e-3), batches of 100 triples, 1000 epochs (their released AwA embeddings were saved
    after 120); class embeddings ``[C, 200]``.

    Choices where the paper or code leaves room, or where this deviates:

    * TransE is kgzsl's (:func:`~kgzsl.semantics.kge.fit_kge`: L1, L1-normalised entities,
      margin ``kge_margin``, early stopping on held-out triples), not the authors' separate
      run; its entity vectors are the normalised ones the score uses.
    * The default text encoder is the packaged MiniLM sentence model (works offline);
      ``text_encoder="word_vectors"`` with ``word_vectors_path`` (GloVe 300-d) is the paper's.
      Word vectors: a text's vector is the mean of its known words, an entity's the mean of
      its texts, unit-normalised (as the authors'). The authors hand-edit ~20 ImageNet names
      (``procyonid`` → a definition); that is not done.
    * Negatives: the tail and the head each replaced by a uniformly drawn entity that has a
      text (unfiltered; the authors also avoid known triples). Entities without a text
      (blank nodes, or no known word) and their triples are left out of the mapping's
      training; a dataset class without a text is an error.
    * Metrics need held-out entities: ``holdout_fraction`` of the entities that are not
      dataset classes have their triples removed from the mapping's training; for them the
      text → structure retrieval (``Tₑ`` vs every ``S``, L1 distance) is measured.
    * Epochs default to 100 (the paper's 1000 take minutes on CPU; the released AwA
      embeddings are from epoch 120).

    After :meth:`encode`, ``metrics_`` holds ``kge/*`` (TransE link prediction, see
    :class:`~kgzsl.semantics.kge.KGEmbedding`), ``ontozsl/loss`` (the mapping's last-epoch
    mean loss), ``ontozsl/retrieval_acc`` and ``ontozsl/retrieval_mrr`` (held-out entities'
    text → structure top-1 and MRR), ``ontozsl/random_retrieval_acc`` and ``ontozsl/random_retrieval_mrr`` (chance),
    ``ontozsl/heldout_entities``, ``ontozsl/text_entities``,
    ``ontozsl/name_fallback_entities`` and ``ontozsl/name_fallback_fraction`` (entities whose
    IRI's local name stood in for a missing text; a warning says so too) and
    ``ontozsl/texts_from_<source>`` (entities by where their text was found: ``label``,
    ``literal``, ``same_as``, ``iri_name``, ``fallback``, ``none``).

    Args:
        dim: TransE entity and relation size (paper: 100).
        kge_epochs: most TransE epochs (early stopped).
        kge_lr: TransE Adam learning rate.
        kge_margin: TransE ranking margin.
        mapping: size ``m`` of the mapped space; each half of the class vector (paper: 100).
        margin: the text-aware ranking margin ``γ`` (paper: 10).
        epochs: text-aware training epochs.
        batch_size: triples per text-aware step (paper: 100).
        lr: text-aware Adam learning rate (paper: 1e-3).
        text_encoder: ``sentence`` (default, the packaged all-MiniLM-L6-v2 unless
            ``sentence_model``) or ``word_vectors`` (``word_vectors_path``).
        texts: ``label`` (``rdfs:label`` names) or ``literals`` (every literal); an entity
            without falls back to its local name.
        sentence_model: a local sentence-transformers folder; ``None`` for the packaged one.
        word_vectors_path: GloVe / word2vec text file for ``text_encoder="word_vectors"``.
        holdout_fraction: share of non-class entities held out of the mapping's training for
            the retrieval metrics (0 disables them).
        relations: relations to train on (IRIs, prefixed or local names); all by default.
        namespace: match the dataset's classes only to entities in this namespace.
        seed: seed of everything random; ``None``: the run's.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ...; ``None``: the run's.
        normalize: ``none`` (the mapped ``tanh`` values, as released), ``l2`` or ``zscore``.

    Shapes:
        returns: ``[C, 2·mapping]`` = ``[S ; T]``.
    """

    requires_knowledge = True
    file_params = ("word_vectors_path",)

    def __init__(
        self,
        dim: int = 100,
        kge_epochs: int = 200,
        kge_lr: float = 0.01,
        kge_margin: float = 1.0,
        mapping: int = 100,
        margin: float = 10.0,
        epochs: int = 100,
        batch_size: int = 100,
        lr: float = 0.001,
        text_encoder: Literal["sentence", "word_vectors"] = "sentence",
        texts: Literal["label", "literals"] = "label",
        sentence_model: str | None = None,
        word_vectors_path: str | None = None,
        holdout_fraction: float = 0.1,
        relations: list[str] | None = None,
        namespace: str | None = None,
        seed: int | None = None,
        device: str | None = None,
        normalize: Literal["none", "l2", "zscore"] = "none",
    ) -> None:
        self.dim = dim
        self.kge_epochs = kge_epochs
        self.kge_lr = kge_lr
        self.kge_margin = kge_margin
        self.mapping = mapping
        self.margin = margin
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.text_encoder = text_encoder
        self.texts = texts
        self.sentence_model = sentence_model
        self.word_vectors_path = word_vectors_path
        self.holdout_fraction = holdout_fraction
        self.relations = relations
        self.namespace = namespace
        self.seed = seed
        self.device = device
        self.normalize = normalize

    # --- text side -------------------------------------------------------------------

    def _embed_texts(self, per_node: list[list[str]], device: str = "cpu") -> tuple[np.ndarray, np.ndarray]:
        """``([N, d] unit vectors, [N] bool has-text)``: each node's texts averaged."""
        unique = sorted({t for ts in per_node for t in ts})
        if self.text_encoder == "sentence":
            from kgzsl.semantics.text import _sentence_model

            model = _sentence_model(self.sentence_model, device)
            emb = np.asarray(
                model.encode(unique, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False),
                dtype=np.float32,
            ).reshape(len(unique), -1)
            vec = {t: emb[i] for i, t in enumerate(unique)}
            dim = emb.shape[1]
        elif self.text_encoder == "word_vectors":
            if self.word_vectors_path is None:
                raise ConfigError("ontozsl: text_encoder='word_vectors' needs word_vectors_path= a GloVe text file")
            words = {t: tokenize_words(t) for t in unique}
            found, dim = read_word_vectors(self.word_vectors_path, {w for ws in words.values() for w in ws})
            vec = {}
            for t, ws in words.items():
                known = [found[w] for w in ws if w in found]
                if known:  # a text with no known word is dropped, as the authors' zero vectors are
                    vec[t] = np.mean(known, axis=0)
        else:
            raise ConfigError(f"ontozsl: unknown text_encoder {self.text_encoder!r}; valid: sentence, word_vectors")
        out = np.zeros((len(per_node), dim), dtype=np.float32)
        has = np.zeros(len(per_node), dtype=bool)
        for i, ts in enumerate(per_node):
            known = [vec[t] for t in ts if t in vec]
            if known:
                out[i], has[i] = np.mean(known, axis=0), True
        return normalize_rows(out, "l2"), has

    # --- encode --------------------------------------------------------------------

    def encode(
        self, kg: KnowledgeGraph | None, dataset: ZSLDataset, context: RunContext | None = None
    ) -> ClassEmbeddings:
        import torch
        import torch.nn.functional as F

        from kgzsl.context import current_context

        ctx = current_context(context)
        seed, dev = ctx.seed_for(self.seed), ctx.device_for(self.device)
        if kg is None:
            raise ConfigError("semantics 'ontozsl' needs a knowledge source (config section 'knowledge')")
        for name in ("dim", "mapping", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"ontozsl: {name} must be at least 1, not {getattr(self, name)}")
        if self.epochs < 0 or not 0 <= self.holdout_fraction < 1:
            raise ConfigError("ontozsl: epochs must be ≥ 0 and holdout_fraction in [0, 1)")
        self.metrics_ = {}
        view, class_rows, triples, iris = class_triples(kg, dataset.class_ids, self.relations, self.namespace)

        # 1. structure: TransE, then frozen
        n_rel = max(view.num_relations, 1)
        fit = fit_kge(
            triples,
            view.num_nodes,
            n_rel,
            model="transe",
            dim=self.dim,
            epochs=self.kge_epochs,
            lr=self.kge_lr,
            margin=self.kge_margin,
            seed=seed,
            device=str(dev),
            context=ctx,
        )
        self.metrics_.update({f"kge/{k}": v for k, v in fit.metrics.items()})
        struct = F.normalize(fit.model.node_emb.weight.detach().cpu(), p=1.0, dim=-1)
        rel_struct = fit.model.rel_emb.weight.detach().cpu()

        # 2. text of every node, where the KG keeps it; say loudly when an IRI stands in for it
        from kgzsl.knowledge.texts import entity_texts as find_texts

        found = find_texts(kg, view.node_ids, self.texts)
        per_node, fell_back = found.texts, found.fell_back
        if fell_back:
            import warnings

            warnings.warn(
                f"ontozsl: {fell_back:,} of {view.num_nodes:,} entities have no text (no label, literal,"
                f" sameAs partner or name-like IRI); their IRIs' local names stand in"
                f" (e.g. {', '.join(found.examples(entities=view.node_ids, n=3))})",
                UserWarning,
                stacklevel=2,
            )
        self.metrics_.update({f"ontozsl/texts_from_{k}": float(v) for k, v in found.counts().items()})
        text_np, has_text = self._embed_texts(per_node, str(dev))
        no_text = [iri for iri, row in zip(iris, class_rows.tolist()) if not has_text[row]]
        if no_text:
            raise DataError(f"{len(no_text)} class(es) have no text to embed: {', '.join(no_text[:5])}")
        text = torch.from_numpy(text_np)
        self.metrics_["ontozsl/text_entities"] = float(has_text.sum())
        self.metrics_["ontozsl/name_fallback_entities"] = float(fell_back)
        self.metrics_["ontozsl/name_fallback_fraction"] = fell_back / max(view.num_nodes, 1)

        # held-out entities: non-class entities with a text, whose triples the mapping never sees
        gen = torch.Generator().manual_seed(seed + 2)
        is_class = torch.zeros(view.num_nodes, dtype=torch.bool)
        is_class[class_rows] = True
        pool = torch.nonzero(torch.from_numpy(has_text) & ~is_class).flatten()
        n_held = round(self.holdout_fraction * len(pool)) if self.holdout_fraction > 0 else 0
        held = pool[torch.randperm(len(pool), generator=gen)[:n_held]].sort().values
        usable = torch.from_numpy(has_text).clone()
        usable[held] = False
        keep = usable[triples[:, 0]] & usable[triples[:, 2]]
        train = triples[keep]
        candidates = torch.nonzero(usable).flatten()
        if len(train) == 0:
            raise DataError("ontozsl: no triple between entities with texts to train the text-aware mapping on")

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 3)
            map_s = torch.nn.Linear(self.dim, self.mapping)
            map_t = torch.nn.Linear(text.shape[1], self.mapping)
        map_s, map_t = map_s.to(dev), map_t.to(dev)
        struct, rel_struct, text = struct.to(dev), rel_struct.to(dev), text.to(dev)
        train, candidates = train.to(dev), candidates.to(dev)
        opt = torch.optim.Adam([*map_s.parameters(), *map_t.parameters()], lr=self.lr)
        batch_gen = torch.Generator(device=dev).manual_seed(seed + 4)

        def ends(e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return torch.tanh(map_s(struct[e])), torch.tanh(map_t(text[e]))

        loss_value = float("nan")
        bar = ctx.bar(range(self.epochs), desc="ontozsl text-aware", unit="epoch")
        for _ in bar:
            order = torch.randperm(len(train), generator=batch_gen, device=dev)
            total = torch.zeros((), device=dev)
            for start in range(0, len(train), self.batch_size):
                batch = train[order[start : start + self.batch_size]]
                h, r, t = batch[:, 0], batch[:, 1], batch[:, 2]
                draw = torch.randint(len(candidates), (2, len(batch)), generator=batch_gen, device=dev)
                h_neg, t_neg = candidates[draw[0]], candidates[draw[1]]
                (hs, ht), (ts, tt) = ends(h), ends(t)
                rm = torch.tanh(map_s(rel_struct[r]))
                pos = text_aware_energy(hs, ht, rm, ts, tt)
                neg_tail = text_aware_energy(hs, ht, rm, *ends(t_neg))
                neg_head = text_aware_energy(*ends(h_neg), rm, ts, tt)
                loss = (F.relu(self.margin + pos - neg_tail) + F.relu(self.margin + pos - neg_head)).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach() * len(batch)
            loss_value = float(total) / len(train)
            bar.set_postfix(loss=f"{loss_value:.4f}")
        bar.close()
        self.metrics_["ontozsl/loss"] = loss_value

        with torch.no_grad():
            all_s, all_t = ends(torch.arange(view.num_nodes, device=dev))
            if len(held):
                # text → structure: rank every entity's S by L1 distance to a held-out T
                dist = torch.cdist(all_t[held.to(dev)], all_s, p=1.0)
                true = dist.gather(1, held.to(dev)[:, None])
                ranks = 1.0 + (dist < true).sum(1).double() + 0.5 * ((dist == true).sum(1).double() - 1)
                self.metrics_["ontozsl/retrieval_acc"] = float((ranks == 1).double().mean())
                self.metrics_["ontozsl/retrieval_mrr"] = float((1.0 / ranks).mean())
                self.metrics_["ontozsl/random_retrieval_acc"] = 1.0 / view.num_nodes
                # a uniformly random rank r ∈ 1..N has E[1/r] = H_N / N
                self.metrics_["ontozsl/random_retrieval_mrr"] = float(
                    (1.0 / np.arange(1, view.num_nodes + 1)).sum() / view.num_nodes
                )
            self.metrics_["ontozsl/heldout_entities"] = float(len(held))
        all_s, all_t = all_s.cpu().numpy(), all_t.cpu().numpy()
        self.entity_ids_ = view.node_ids
        self.entity_embeddings_ = np.concatenate([all_s, all_t], axis=1)
        matrix = normalize_rows(self.entity_embeddings_[class_rows.numpy()], self.normalize)
        columns = [f"ontozsl_struct{i}" for i in range(self.mapping)] + [
            f"ontozsl_text{i}" for i in range(self.mapping)
        ]
        return ClassEmbeddings(matrix, list(dataset.class_ids), columns)


# --- precomputed -------------------------------------------------------------------------


def _id_key(text: str) -> str:
    """The form ids are matched in: an IRI's local name, then :func:`normalize_label`
    (``killer+whale`` ↔ ``Killer_Whale`` ↔ ``killer whale``; wnids unchanged)."""
    return normalize_label(unquote(local_name(text)) if "://" in text else text)


def _as_ids(value: object, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    array = np.asarray(value)
    if array.dtype.kind in "USO":
        return [str(np.asarray(v).ravel()[0]) if np.asarray(v).size else "" for v in array.ravel()]
    raise DataError(f"{where}: expected class ids (strings), found a {array.dtype} array")


@SEMANTICS.register("precomputed")
class PrecomputedEmbeddings(SemanticEncoder):
    """Class embeddings read from a file, rows matched to the dataset's classes by id.

    For embeddings computed elsewhere, e.g. OntoZSL's released ``o2v-awa.mat`` (Geng et
    al., WWW 2021: ``k2v``, ``50 × 200``, no ids; its rows follow the xlsa17
    ``allclasses_names`` order, as the authors' ``train.py`` writes them).

    Files: ``.mat`` (v5 or v7.3), ``.npy`` (the matrix) or ``.npz``. The matrix is ``key``,
    or the file's only 2-D numeric variable. The rows' ids come from ``ids``: a text file
    (one id a line, or a JSON list), or the name of a variable of the same ``.mat``/``.npz``
    (cell/string array); without ``ids``, a variable named ``ids``, ``class_ids``,
    ``wnids``, ``allclasses_names``, ``classes`` or ``names`` is used when the file has one.
    Ids match a dataset class id exactly or after :func:`~kgzsl.knowledge.alignment.normalize_label`
    (an IRI by its local name): ``killer+whale`` ↔ ``killer whale``, ``n02071294``. Extra
    rows are ignored; a class without a row is a :class:`~kgzsl.errors.DataError` listing them.
    A file without ids is read in dataset order only when ``assume_dataset_order=True``
    (and then must have exactly ``C`` rows): a wrong order would silently swap classes.

    Args:
        path: the embeddings file.
        key: the matrix's variable name (``.mat``/``.npz``).
        ids: a file of row ids, or the variable holding them.
        assume_dataset_order: take rows as ``dataset.class_ids`` when the file has no ids.
        normalize: ``none`` (as stored), ``l2`` or ``zscore``.

    Shapes:
        returns: ``[C, d]``, ``d`` the file's columns.
    """

    file_params = ("path",)

    #: the contract test builds it from a fixture of this name (a tiny ``.npy`` and ids file)
    needs_fixture = "precomputed_params"

    def __init__(
        self,
        path: str | None = None,
        key: str | None = None,
        ids: str | None = None,
        assume_dataset_order: bool = False,
        normalize: Literal["none", "l2", "zscore"] = "none",
    ) -> None:
        self.path = path
        self.key = key
        self.ids = ids
        self.assume_dataset_order = assume_dataset_order
        self.normalize = normalize

    def _read(self, path: Path) -> tuple[np.ndarray, list[str] | None]:
        """``(matrix, row ids or None)`` of the file."""
        suffix = path.suffix.lower()
        ids_file = self.ids is not None and (Path(self.ids).suffix.lower() in (".txt", ".json", ".csv", ".lst"))
        if self.ids is not None and (ids_file or Path(self.ids).expanduser().is_file()):
            from kgzsl.data.dataset import read_id_list

            row_ids: list[str] | None = read_id_list(Path(self.ids).expanduser(), "row id")
            id_key = None
        else:
            row_ids, id_key = None, self.ids
        if suffix == ".npy":
            if self.key is not None or id_key is not None:
                raise ConfigError(f"{path}: a .npy file holds one array; key= and ids= as a variable do not apply")
            matrix = np.load(path, allow_pickle=False)
            return matrix, row_ids
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                variables = {k: (f[k].shape, f[k].dtype.kind) for k in f.files}
                key = self.key or self._only_matrix(path, {k: (s, k_ in "fiu") for k, (s, k_) in variables.items()})
                if key not in variables:
                    raise DataError(f"{path}: no array {key!r}; arrays: {', '.join(variables)}")
                matrix = f[key]
                id_key = id_key or self._default_ids(path, variables, row_ids)
                if id_key is not None:
                    if id_key not in variables:
                        raise DataError(f"{path}: no ids array {id_key!r}; arrays: {', '.join(variables)}")
                    row_ids = _as_ids(f[id_key], f"{path}: {id_key}")
            return matrix, row_ids
        if suffix == ".mat":
            from kgzsl.matlab import NUMERIC_CLASSES, mat_fields, read_mat

            fields = mat_fields(path)
            key = self.key or self._only_matrix(path, {k: (s, c in NUMERIC_CLASSES) for k, (s, c) in fields.items()})
            id_key = id_key or self._default_ids(path, fields, row_ids)
            data = read_mat(path, [key] + ([id_key] if id_key else []))
            if id_key is not None:
                row_ids = _as_ids(data[id_key], f"{path}: {id_key}")
            return np.asarray(data[key]), row_ids
        raise ConfigError(f"{path}: unknown embeddings file type {suffix!r}; valid: .mat, .npy, .npz")

    @staticmethod
    def _only_matrix(path: Path, variables: dict[str, tuple[tuple, bool]]) -> str:
        matrices = [k for k, (shape, numeric) in variables.items() if numeric and len(shape) == 2 and min(shape) > 1]
        if len(matrices) != 1:
            raise ConfigError(
                f"{path}: pass key= the embeddings variable; 2-D numeric ones: {', '.join(matrices) or 'none'}"
            )
        return matrices[0]

    @staticmethod
    def _default_ids(path: Path, variables: dict, row_ids: list[str] | None) -> str | None:
        if row_ids is not None:
            return None
        found = [k for k in _ID_KEYS if k in variables]
        return found[0] if found else None

    def encode(
        self, kg: KnowledgeGraph | None, dataset: ZSLDataset, context: RunContext | None = None
    ) -> ClassEmbeddings:
        if self.path is None:
            raise ConfigError("semantics 'precomputed' needs path= a .mat, .npy or .npz file of class embeddings")
        path = Path(self.path).expanduser()
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        matrix, row_ids = self._read(path)
        matrix = np.asarray(matrix)
        if matrix.ndim != 2 or matrix.dtype.kind not in "fiu":
            raise DataError(f"{path}: expected a 2-D numeric matrix, found {matrix.dtype} {matrix.shape}")
        class_ids = list(dataset.class_ids)
        if row_ids is None:
            if not self.assume_dataset_order:
                raise DataError(
                    f"{path}: the file names no class for its rows; pass ids= (a file or variable of row ids),"
                    " or assume_dataset_order=True if its rows follow the dataset's classes"
                )
            if len(matrix) != len(class_ids) and matrix.shape[1] == len(class_ids):
                matrix = matrix.T  # MATLAB files often store d × C
            if len(matrix) != len(class_ids):
                raise DataError(f"{path}: {matrix.shape[0]} rows for {len(class_ids)} classes (assume_dataset_order)")
            rows = list(range(len(class_ids)))
        else:
            if len(row_ids) != len(matrix) and matrix.shape[1] == len(row_ids):
                matrix = matrix.T
            if len(row_ids) != len(matrix):
                raise DataError(f"{path}: {len(row_ids)} ids for a {matrix.shape[0]} × {matrix.shape[1]} matrix")
            exact = {r: i for i, r in enumerate(row_ids)}
            normal: dict[str, list[int]] = {}
            for i, r in enumerate(row_ids):
                normal.setdefault(_id_key(r), []).append(i)
            rows, missing = [], []
            for cid in class_ids:
                if cid in exact:
                    rows.append(exact[cid])
                    continue
                found = normal.get(_id_key(cid), [])
                if len(found) > 1:
                    raise DataError(f"{path}: class {cid!r} matches several rows: {[row_ids[i] for i in found]}")
                if found:
                    rows.append(found[0])
                else:
                    missing.append(cid)
            if missing:
                more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
                shown = ", ".join(map(repr, missing[:10])) + more
                raise DataError(f"{path}: {len(missing)} of {len(class_ids)} classes have no row: {shown}")
        out = np.asarray(matrix[rows], dtype=np.float32)
        if not np.isfinite(out).all():
            raise DataError(f"{path}: the class embeddings have non-finite values")
        self.metrics_ = {}
        return ClassEmbeddings(normalize_rows(out, self.normalize), class_ids, [])
