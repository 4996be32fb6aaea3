"""MADS-style document supervision: attribute views of class documents aligned with image patches.

Qu, Yu, Zhuang, Gou, Xiong & Wu, "MADS: Multi-Attribute Document Supervision for Zero-Shot
Image Classification", arXiv 2503.06847, 2025; it builds on I2DFormer (Naeem, Xian, Van Gool &
Tombari, "I2DFormer: Learning Image to Document Attention for Zero-Shot Image Classification",
NeurIPS 2022) and EmDepart (Qu et al., "Visual-Semantic Decomposition and Partial Alignment for
Document-based Zero-Shot Learning", ACM MM 2024).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from kgzsl.errors import ConfigError, DataError
from kgzsl.language.focus import focus_loss
from kgzsl.methods.base import ZSLMethod, ZSLTask, fit_context, mask_candidates, seeded
from kgzsl.registry import METHODS

if TYPE_CHECKING:
    from kgzsl.context import RunContext

__all__ = ["MADS", "MADSNet", "DocumentTokens", "document_tokens", "attribute_tokens", "STOPWORDS", "VISUAL_VIEWS"]

#: the attribute views whose words are focus (visual) words by default: how a thing looks.
#: ``habitat``, ``behaviour``, ``diet`` and ``bloom`` of ``ATTRIBUTE_GROUPS`` (and the catch-all
#: ``other``) are not. On the shared AWA2 documents (128 words a class) these views hold 84% of
#: the words (73% are focus words once ``focus_max_df`` drops those of most documents), all the
#: groups 97%: encyclopedia articles of animals are mostly about how they look
VISUAL_VIEWS: tuple[str, ...] = ("colour", "shape", "pattern", "size", "texture", "parts")

#: function words left out of the word tokens (they ground nothing and dilute attention)
STOPWORDS = frozenset(
    "a an and are as at be been but by can for from has have in is it its of on or that the their "
    "there these they this those to was were which while with".split()
)


class DocumentTokens:
    """The word tokens of each class document, padded: what :class:`MADSNet` reads.

    Shapes:
        vectors: ``[C, L, w]`` float32 word vectors (zeros at padding).
        mask: ``[C, L]`` bool, the real words.
        focus: ``[C, L]`` float32, 1 for the words of a focus view (visual), else 0.
        view: ``[C, L]`` int64, the index in ``view_names`` of the view each word came from
            (its first focus view, else its first view; 0 at padding).

    Attributes:
        words: each class's words (the texts of the first ``mask.sum(1)`` rows).
        view_names: the views met, in order of first appearance.
    """

    def __init__(
        self,
        vectors: torch.Tensor,
        mask: torch.Tensor,
        focus: torch.Tensor,
        words: list[list[str]],
        view: torch.Tensor | None = None,
        view_names: list[str] | None = None,
    ) -> None:
        self.vectors = vectors
        self.mask = mask
        self.focus = focus
        self.words = words
        self.view = torch.zeros(mask.shape, dtype=torch.long) if view is None else view
        self.view_names = ["document"] if view_names is None else view_names


def _view_words(
    views: list[dict[str, list[str]]], focus_views: list[str] | None, other: str, max_words: int
) -> list[list[tuple[str, bool, str]]]:
    """Per class: its distinct words as ``(word, is focus word, view)``, focus-view words first."""
    from kgzsl.semantics.text import tokenize_words

    chosen = VISUAL_VIEWS if focus_views is None else tuple(focus_views)
    out = []
    for view in views:
        focus_words: dict[str, str] = {}
        other_words: dict[str, str] = {}
        for name, sentences in view.items():
            target = focus_words if name != other and name in chosen else other_words
            for sentence in sentences:
                for w in tokenize_words(sentence):
                    if w not in STOPWORDS and w.isalpha():
                        target.setdefault(w, name)
        rows = [(w, True, v) for w, v in focus_words.items()]
        rows += [(w, False, v) for w, v in other_words.items() if w not in focus_words]
        out.append(rows[:max_words])
    return out


def _word_table(
    words: list[str],
    kind: str,
    word_dim: int,
    word_vectors: str | None,
    text_arch: str | None,
    text_weights: str | None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(vectors [V, w] float32, found [V] bool)`` of ``words`` from the chosen token table."""
    if kind == "hashed":
        from kgzsl.data.synthetic_documents import hashed_word_vectors

        return hashed_word_vectors(words, word_dim), np.ones(len(words), dtype=bool)
    if kind == "glove":
        from kgzsl.semantics.text import read_word_vectors

        found, dim = read_word_vectors(str(word_vectors), set(words))
        table = np.zeros((len(words), dim), dtype=np.float32)
        hit = np.array([w in found for w in words], dtype=bool)
        for i, w in enumerate(words):
            if w in found:
                table[i] = found[w]
        return table, hit
    # "clip": the text tower's token embedding table; a word is the mean of its BPE tokens'
    import open_clip

    from kgzsl.semantics.text import clip_model

    model, name = clip_model(str(text_arch), text_weights)
    tokenizer = open_clip.get_tokenizer(name)
    ids = tokenizer(words)  # [V, context]: SOT, BPE tokens, EOT, zeros
    emb = model.token_embedding.weight.detach().float()
    sot, eot = int(ids[0, 0]), int(ids[0].max()) if len(words) else 0
    keep = (ids != 0) & (ids != sot) & (ids != eot)
    summed = (emb[ids] * keep[..., None]).sum(1)
    table = (summed / keep.sum(1, keepdim=True).clamp_min(1)).numpy().astype(np.float32)
    return table, keep.any(1).numpy()


def document_tokens(
    views: list[dict[str, list[str]]],
    *,
    words: str = "hashed",
    word_dim: int = 32,
    word_vectors: str | None = None,
    text_arch: str | None = None,
    text_weights: str | None = None,
    focus_views: list[str] | None = None,
    other: str = "other",
    max_words: int = 128,
    focus_max_df: float = 0.5,
) -> DocumentTokens:
    """Word tokens of each class's attribute views (``ClassDocuments.views()``), with their focus mask.

    A class's tokens are the distinct words of its views (lower case, stop words and
    non-alphabetic tokens dropped), the words of the focus views first (``focus`` 1: the views in
    ``focus_views``, default :data:`VISUAL_VIEWS`), then the words of the other views and of the
    catch-all ``other`` view (``focus`` 0), cut at ``max_words``. A focus-view word that is in
    more than ``focus_max_df`` of the class documents is not a focus word: it tells no class
    from another (the focus loss is about *discriminative* visual words; 1.0 keeps them all).

    Word vectors come from a token table: ``hashed`` (a random table keyed by the word's text,
    :func:`~kgzsl.data.synthetic_documents.hashed_word_vectors`, for tests and synthetic
    data), ``glove`` (a GloVe / word2vec text file, as I2DFormer and
    EmDepart use; words not in the file are dropped) or ``clip`` (the token embedding table of
    an open_clip text tower: ``text_arch`` and ``text_weights``; a word is the mean of its BPE
    tokens' embeddings).
    """
    per_class = _view_words(views, focus_views, other, max_words)
    if focus_max_df < 1.0 and len(per_class) > 1:
        # words in most documents tell no class from another ("colour", "body"): not focus words
        df: dict[str, int] = {}
        for rows in per_class:
            for w, _, _ in rows:
                df[w] = df.get(w, 0) + 1
        limit = focus_max_df * len(per_class)
        per_class = [[(w, f and df[w] <= limit, v) for w, f, v in rows] for rows in per_class]
    vocab = sorted({w for rows in per_class for w, _, _ in rows})
    table, found = _word_table(vocab, words, word_dim, word_vectors, text_arch, text_weights)
    index = {w: i for i, w in enumerate(vocab)}
    kept = [[r for r in rows if found[index[r[0]]]] for rows in per_class]
    view_names = list(dict.fromkeys(v for rows in kept for _, _, v in rows)) or ["document"]
    view_index = {v: i for i, v in enumerate(view_names)}
    length = max(1, max(len(k) for k in kept))
    c, dim = len(kept), table.shape[1]
    vectors = np.zeros((c, length, dim), dtype=np.float32)
    mask = np.zeros((c, length), dtype=bool)
    focus = np.zeros((c, length), dtype=np.float32)
    view = np.zeros((c, length), dtype=np.int64)
    for i, rows in enumerate(kept):
        for j, (w, f, v) in enumerate(rows):
            vectors[i, j] = table[index[w]]
            mask[i, j] = True
            focus[i, j] = float(f)
            view[i, j] = view_index[v]
    return DocumentTokens(
        torch.from_numpy(vectors),
        torch.from_numpy(mask),
        torch.from_numpy(focus),
        [[w for w, _, _ in rows] for rows in kept],
        torch.from_numpy(view),
        view_names,
    )


def attribute_tokens(semantics: torch.Tensor) -> DocumentTokens:
    """Class semantics read as documents of attribute words (the fallback without documents).

    Word ``j`` of class ``c`` is attribute ``j`` with vector ``s[c, j] e_j`` (``e_j`` one-hot),
    present where ``s[c, j] ≠ 0``; every word is a focus word (attributes are visual by design).
    """
    s = semantics.detach().float().cpu()
    c, a = s.shape
    vectors = torch.diag_embed(s)  # [C, a, a]: row j of class c is s[c, j] e_j
    mask = s != 0
    empty = ~mask.any(1)
    mask[empty] = True  # a class with all-zero semantics keeps its (zero) words: no empty softmax
    return DocumentTokens(vectors, mask, mask.float(), [[f"attribute{j}" for j in range(a)] for _ in range(c)])


class MADSNet(nn.Module):
    """The MADS-style scorer: word-to-patch alignment under a word-level attention, and global alignment.

    Image patches ``p_t``, the image embedding ``x`` and the words ``w_l`` of a class document
    are projected into one space (``P p_t``, ``G x``, ``V w_l``, unit norm). Each word is
    grounded in the image by a soft maximum over the patches of its cosine similarity,
    ``m_l = Σ_t softmax_t(s_tl / τ) s_tl`` with ``s_tl = cos(P p_t, V w_l)`` (token-to-patch
    max-sim); the word-level attention is ``a_l = softmax_l(Q(G x) · K w_l / √d)`` over the
    document's words, conditioned on the image (I2DFormer's image-to-document attention, from
    the image embedding). The local score is ``Σ_l a_l m_l``: how well the image shows the words
    it attends to; the global score is ``cos(G x, Σ_l a_l V w_l)``, the image embedding against
    the attention-pooled document. Both read the one attention the focus loss acts on.

    Shapes:
        forward: ``global [B, Dg]``, ``patches [B, T, Dt]``, ``words [C, L, w]``, ``mask [C, L]``
        → ``(global scores [B, C], local scores [B, C], attention [B, C, L])``.
    """

    def __init__(self, global_dim: int, token_dim: int, word_dim: int, dim: int, tau: float = 0.1) -> None:
        super().__init__()
        self.image = nn.Linear(global_dim, dim)
        self.patch = nn.Linear(token_dim, dim)
        self.query = nn.Linear(dim, dim, bias=False)
        self.key = nn.Linear(word_dim, dim, bias=False)
        self.value = nn.Linear(word_dim, dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(10.0)))
        self.dim = dim
        self.tau = tau

    def forward(
        self, glob: torch.Tensor, patches: torch.Tensor, words: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.parts(glob, patches, words, mask)[:3]

    def parts(
        self, glob: torch.Tensor, patches: torch.Tensor, words: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`forward`'s outputs and the words' grounding ``m`` ``[B, C, L]`` (unscaled cosines)."""
        g = F.normalize(self.image(glob), dim=-1)  # [B, d]
        p = F.normalize(self.patch(patches), dim=-1)  # [B, T, d]
        v = F.normalize(self.value(words), dim=-1)  # [C, L, d]
        logits = torch.einsum("bd,cld->bcl", self.query(g), self.key(words)) / math.sqrt(self.dim)
        attention = logits.masked_fill(~mask[None], float("-inf")).softmax(-1)  # [B, C, L]
        sim = torch.einsum("btd,cld->bclt", p, v)
        grounding = (sim / self.tau).softmax(-1).mul(sim).sum(-1)  # [B, C, L]
        local = (attention * grounding).sum(-1)
        doc = F.normalize(torch.einsum("bcl,cld->bcd", attention, v), dim=-1)
        global_ = torch.einsum("bd,bcd->bc", g, doc)
        scale = self.logit_scale.exp().clamp(max=100.0)
        return scale * global_, scale * local, attention, grounding


@METHODS.register("mads")
class MADS(ZSLMethod):
    """MADS-style document model (Qu et al., "MADS: Multi-Attribute Document Supervision for
    Zero-Shot Image Classification", arXiv 2503.06847, 2025), with its focus loss.

    Each class document is split into attribute views (colour, shape, pattern, ... and the
    catch-all ``other``: ``ClassDocuments.views()``, keyword groups standing in for MADS's
    language-model rewrite); the views' words become tokens of a frozen token table; a
    :class:`MADSNet` aligns them locally with the image's patch tokens (each word's soft
    max-sim over the patches, weighted by an image-conditioned word attention) and globally
    with the image embedding; training is cross-entropy over the seen classes' scores, of the
    global and of the local branch, plus ``focus_weight`` times the focus loss
    (:mod:`kgzsl.language.focus`) on the word attention of each image's own document, whose
    focus words are the words of its appearance views that are not in most documents
    (:func:`document_tokens`). Unseen classes are scored from their documents: ``global + local``.

    What follows the paper and what is ours: the attribute views, the local (patch–word) and
    global alignments, seen-class cross-entropy and the focus loss are MADS's; its
    language-model rewrite of documents is left to the user (``views(rewrite=...)``), its
    view-specific transformer encoders and cross-view interaction are reduced here to one
    attention shared by all views (the words of every view attend together), the attention
    is queried by the image embedding rather than by each patch (I2DFormer), so that it is one
    distribution over the words per image and class, and the focus loss's exact form is our
    reading (see :mod:`kgzsl.language.focus`). Word vectors are a frozen table, not contextual
    text-tower outputs.

    Inputs. Feature rows are ``[global embedding ; tokens × token_dim patch tokens]`` (the
    layout of ``synthetic_documents``; for open_clip ViT features, the pooled embedding then
    the flattened ``patch_tokens.npy``): ``tokens: 0`` means rows are the global embedding
    alone, which then also serves as the one patch. Documents come from ``documents`` (a JSON
    file or folder read with ``kgzsl.language.documents.read_documents`` against the task's
    class ids; ``label_map`` for numbered classes such as FLO); with ``documents`` unset, from
    the run's knowledge graph (``documents_from_kg``) when there is one, else the class
    semantics are read as documents of attribute words (:func:`attribute_tokens`).

    Args:
        documents: class documents (JSON ``{class: text}`` / ``{class: [sentences]}`` or a folder
            of ``<class>.txt``).
        label_map: label → name map for numbered classes (a JSON file).
        words: token table: ``hashed``, ``glove`` or ``clip`` (see :func:`document_tokens`).
        word_dim: dimension of the ``hashed`` table.
        word_vectors: the GloVe / word2vec text file of ``words: glove``.
        text_arch: open_clip architecture of ``words: clip``.
        text_weights: its checkpoint file (or pretrained tag when online).
        focus_views: the views whose words are focus words (default: :data:`VISUAL_VIEWS`,
            the appearance groups).
        focus_max_df: a focus-view word in more than this share of the class documents is not
            a focus word (not discriminative); 1.0 keeps them all.
        max_words: most words per class.
        tokens: patch tokens per feature row (0: none).
        token_dim: dimension of a patch token (default: the global embedding's, i.e. rows of
            ``(tokens + 1) × token_dim`` values).
        dim: dimension of the joint space.
        focus_weight: weight of the focus loss (0: the same model without it).
        epochs: passes over the training images.
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        batch_size: images per step.
        score_batch: images scored at a time by :meth:`decision_function`.
        seed: the fit's seed (``None``: the run's).
        device: where to fit and score (``None``: the run's).

    Attributes:
        net_: the trained :class:`MADSNet`.
        words_: ``[C, L, w]`` word vectors of every class's document; ``mask_``, ``focus_``,
            ``view_`` ``[C, L]`` (see :class:`DocumentTokens`); ``word_texts_`` the words and
            ``view_names_`` the views (:meth:`view_scores`).
        candidates_: ``[K]`` the classes scored.
        history_: per-epoch mean losses ``{"ce": [...], "focus": [...]}``.

    Shapes:
        decision_function: ``[N, Dg + tokens · token_dim]`` → ``[N, C]``, ``-inf`` outside the candidates.
    """

    uses_classifier = False
    # text_weights may be a pretrained tag when online: the loader checks it, with one line
    file_params = ("documents", "label_map", "word_vectors")

    def __init__(
        self,
        documents: str | None = None,
        label_map: str | None = None,
        words: str = "hashed",
        word_dim: int = 32,
        word_vectors: str | None = None,
        text_arch: str | None = None,
        text_weights: str | None = None,
        focus_views: list[str] | None = None,
        focus_max_df: float = 0.5,
        max_words: int = 128,
        tokens: int = 0,
        token_dim: int | None = None,
        dim: int = 64,
        focus_weight: float = 0.5,
        epochs: int = 40,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        batch_size: int = 32,
        score_batch: int = 256,
        seed: int | None = None,
        device: str | None = None,
    ) -> None:
        self.documents = documents
        self.label_map = label_map
        self.words = words
        self.word_dim = word_dim
        self.word_vectors = word_vectors
        self.text_arch = text_arch
        self.text_weights = text_weights
        self.focus_views = focus_views
        self.focus_max_df = focus_max_df
        self.max_words = max_words
        self.tokens = tokens
        self.token_dim = token_dim
        self.dim = dim
        self.focus_weight = focus_weight
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.score_batch = score_batch
        self.seed = seed
        self.device = device

    @classmethod
    def check_config(cls, params: dict[str, Any]) -> None:
        """Refuse inconsistent parameters before any work (``method.KEY`` in the message)."""
        words = params.get("words", "hashed")
        if words not in ("hashed", "glove", "clip"):
            raise ConfigError(f"method.words: expected 'hashed', 'glove' or 'clip', got {words!r}")
        if words == "glove" and not params.get("word_vectors"):
            raise ConfigError("method.word_vectors: words: glove needs a GloVe / word2vec text file")
        if words == "clip" and not params.get("text_arch"):
            raise ConfigError("method.text_arch: words: clip needs an open_clip architecture (and text_weights)")
        tokens = params.get("tokens", 0)
        if isinstance(tokens, int) and not isinstance(tokens, bool) and tokens < 0:
            raise ConfigError(f"method.tokens: expected a value >= 0, got {tokens}")
        weight = params.get("focus_weight", 1.0)
        if isinstance(weight, (int, float)) and not isinstance(weight, bool) and not weight >= 0:
            raise ConfigError(f"method.focus_weight: expected a value >= 0, got {weight}")
        df = params.get("focus_max_df", 0.5)
        if isinstance(df, (int, float)) and not isinstance(df, bool) and not 0 < df <= 1:
            raise ConfigError(f"method.focus_max_df: expected a share in (0, 1], got {df}")
        for key in ("max_words", "dim", "score_batch"):
            value = params.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value <= 0:
                raise ConfigError(f"method.{key}: expected a value > 0, got {value}")

    # -- inputs --------------------------------------------------------------------------------
    def split_features(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(global [N, Dg], patches [N, T, Dt])`` of feature rows (see the class docstring)."""
        n, width = features.shape
        if self.tokens == 0:
            return features, features[:, None, :]
        token_dim = self.token_dim or width // (self.tokens + 1)
        global_dim = width - self.tokens * token_dim
        if global_dim <= 0 or (self.token_dim is None and width % (self.tokens + 1)):
            raise DataError(
                f"mads: feature rows of {width} values cannot hold {self.tokens} patch tokens of "
                f"{token_dim} values and a global embedding (set tokens / token_dim to the features' layout)"
            )
        return features[:, :global_dim], features[:, global_dim:].reshape(n, self.tokens, token_dim)

    def _tokens(self, task: ZSLTask) -> DocumentTokens:
        if self.documents is None and task.knowledge is None:
            return attribute_tokens(task.semantics)
        from kgzsl.language.documents import documents_from_kg, read_documents

        if not task.class_ids:
            raise DataError("mads: documents need the dataset's class ids (task.class_ids is empty)")
        if self.documents is not None:
            docs = read_documents(self.documents, task.class_ids, label_map=self.label_map)
        else:
            docs = documents_from_kg(task.knowledge, task.class_ids)
        return document_tokens(
            docs.views(),
            words=self.words,
            word_dim=self.word_dim,
            word_vectors=self.word_vectors,
            text_arch=self.text_arch,
            text_weights=self.text_weights,
            focus_views=self.focus_views,
            focus_max_df=self.focus_max_df,
            max_words=self.max_words,
        )

    # -- training ------------------------------------------------------------------------------
    def fit(self, task: ZSLTask, classifier: Any = None, context: RunContext | None = None) -> MADS:
        """Train on the seen classes' images and documents; returns ``self``.

        ``classifier`` is ignored: MADS scores classes from their documents.
        """
        self.check_config(self.get_params())
        ctx, device = fit_context(context, self.device, task.device)
        toks = self._tokens(task)
        if toks.vectors.shape[0] != task.num_classes:
            raise DataError(f"mads: {toks.vectors.shape[0]} class documents for {task.num_classes} classes")
        seen = task.seen.to(device)
        local = torch.full((task.num_classes,), -1, dtype=torch.long, device=device)
        local[seen] = torch.arange(seen.numel(), device=device)
        targets = local[task.labels.to(device)]
        if bool((targets < 0).any()):
            raise ValueError("mads: every training label must be a seen class")
        glob, patches = self.split_features(task.features.to(device, torch.float32))
        words = toks.vectors.to(device)
        mask, focus = toks.mask.to(device), toks.focus.to(device)
        seen_words, seen_mask, seen_focus = words[seen], mask[seen], focus[seen]
        n = glob.shape[0]
        self.history_ = {"ce": [], "focus": []}
        with seeded(ctx.seed_for(self.seed), device):
            net = MADSNet(glob.shape[1], patches.shape[2], words.shape[2], self.dim).to(device)
            opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            for _ in ctx.bar(range(self.epochs), desc="mads", unit="epoch"):
                order = torch.randperm(n, device=device)
                sums, steps = [0.0, 0.0], 0
                for start in range(0, n, self.batch_size):
                    idx = order[start : start + self.batch_size]
                    g, lo, attention = net(glob[idx], patches[idx], seen_words, seen_mask)
                    y = targets[idx]
                    ce = F.cross_entropy(g, y) + F.cross_entropy(lo, y)
                    loss = ce
                    if self.focus_weight > 0:
                        fl = focus_loss(attention, seen_focus, y)
                        loss = loss + self.focus_weight * fl
                        sums[1] += float(fl.detach())
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sums[0] += float(ce.detach())
                    steps += 1
                self.history_["ce"].append(sums[0] / max(steps, 1))
                self.history_["focus"].append(sums[1] / max(steps, 1))
        self.net_ = net.eval()
        self.words_, self.mask_, self.focus_ = words, mask, focus
        self.view_ = toks.view.to(device)
        self.view_names_ = list(toks.view_names)
        self.word_texts_ = [list(w) for w in toks.words]
        self.candidates_ = task.candidates.to(device)
        return self

    @torch.no_grad()
    def attention(self, features: torch.Tensor) -> torch.Tensor:
        """Word-level attention ``[N, K, L]`` of each image over each candidate class's words.

        Rows of class ``candidates_[k]`` line up with its words (``mask_``); for inspecting
        which words a trained model reads.
        """
        glob, patches = self.split_features(features.to(self.words_.device, torch.float32))
        cand = self.candidates_
        return self.net_(glob, patches, self.words_[cand], self.mask_[cand])[2]

    @torch.no_grad()
    def view_scores(self, features: torch.Tensor) -> torch.Tensor:
        """Per-view local evidence ``[N, K, V]`` for each candidate class (MADS's multi-view reading).

        For view ``v`` (``view_names_[v]``) of candidate class ``candidates_[k]``: the attention-
        weighted grounding of that view's words, ``Σ_{l∈v} a_l m_l / Σ_{l∈v} a_l`` (a cosine in
        ``[-1, 1]``: how well the image shows what the view says), ``NaN`` where the class's
        document has no word in the view. The local score is these, weighted by each view's
        attention mass.

        Shapes:
            features: ``[N, Dg + tokens · token_dim]``.
            returns: ``[N, K, V]`` float32.
        """
        glob, patches = self.split_features(features.to(self.words_.device, torch.float32))
        cand = self.candidates_
        _, _, a, m = self.net_.parts(glob, patches, self.words_[cand], self.mask_[cand])
        onehot = F.one_hot(self.view_[cand], len(self.view_names_)).float() * self.mask_[cand, :, None]  # [K, L, V]
        mass = torch.einsum("nkl,klv->nkv", a, onehot)
        evidence = torch.einsum("nkl,klv->nkv", a * m, onehot)
        present = onehot.sum(1) > 0  # [K, V]
        out = evidence / mass.clamp_min(1e-12)
        return out.masked_fill(~present[None], float("nan"))

    @torch.no_grad()
    def decision_function(self, features: torch.Tensor) -> torch.Tensor:
        """Scores ``global + local`` for all classes, ``-inf`` outside ``candidates_``.

        Shapes:
            features: ``[N, Dg + tokens · token_dim]``.
            returns: ``[N, C]`` float32 on the method's device.
        """
        device = self.words_.device
        cand = self.candidates_
        words, mask = self.words_[cand], self.mask_[cand]
        out = []
        for start in range(0, features.shape[0], self.score_batch):
            chunk = features[start : start + self.score_batch].to(device, torch.float32)
            glob, patches = self.split_features(chunk)
            g, lo, _ = self.net_(glob, patches, words, mask)
            out.append(g + lo)
        scores = torch.cat(out) if out else torch.zeros((0, cand.numel()), device=device)
        return mask_candidates(scores, cand, self.words_.shape[0])
