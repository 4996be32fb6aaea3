"""Zero-shot prompt weighting (Allingham et al., ICML 2023): the score against a hand computation,
informative prompts ranked above uninformative ones, the debiasing, and template ensembling."""

import numpy as np
import pytest
import torch

from kgzsl.errors import ConfigError
from kgzsl.language.weighting import combine_prompts, ensemble_prompts, mean_unit, prompt_scores, prompt_weights


def _unit(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x, dim=-1)


def _world(seed: int = 0, n_per_class: int = 30, noise: float = 0.4):
    """6 classes with unit directions in 12-d; images = direction + noise; 3 kinds of prompt:

    * informative (2): the class directions, slightly perturbed;
    * uninformative (2): one shared vector for every class plus tiny noise (no class signal);
    * biased (1): random class vectors, one of them the images' mean direction (always wins).
    """
    g = torch.Generator().manual_seed(seed)
    c, d = 6, 12
    directions = _unit(torch.randn(c, d, generator=g))
    labels = torch.arange(c).repeat_interleave(n_per_class)
    images = directions[labels] + noise * torch.randn(len(labels), d, generator=g)
    informative = [_unit(directions + 0.1 * torch.randn(c, d, generator=g)) for _ in range(2)]
    shared = torch.randn(d, generator=g)
    uninformative = [_unit(shared + 0.02 * torch.randn(c, d, generator=g)) for _ in range(2)]
    biased = _unit(torch.randn(c, d, generator=g))
    biased[0] = _unit(images.mean(0))
    prompts = torch.stack([*informative, *uninformative, biased])
    return prompts, images, labels


def _accuracy(classifiers: torch.Tensor, images: torch.Tensor, labels: torch.Tensor) -> float:
    return float(((_unit(images) @ classifiers.T).argmax(1) == labels).float().mean())


def test_score_is_the_debiased_mean_max_logit_computed_by_hand():
    rng = np.random.default_rng(0)
    prompts = rng.normal(size=(3, 4, 5))
    prompts /= np.linalg.norm(prompts, axis=2, keepdims=True)
    x = rng.normal(size=(7, 5))
    b = rng.normal(size=(9, 5))
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    bn = b / np.linalg.norm(b, axis=1, keepdims=True)
    expected = []
    for w in prompts:
        logits = 100.0 * xn @ w.T  # [N, C]
        mu = (100.0 * bn @ w.T).mean(0)  # each class's mean logit over the bias images
        expected.append((logits - mu).max(1).mean())
    got = prompt_scores(torch.tensor(prompts, dtype=torch.float32), torch.tensor(x), torch.tensor(b), chunk=3)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-4)
    # without bias images the test images themselves are the bias images
    own = prompt_scores(torch.tensor(prompts, dtype=torch.float32), torch.tensor(x))
    same = prompt_scores(torch.tensor(prompts, dtype=torch.float32), torch.tensor(x), torch.tensor(x))
    torch.testing.assert_close(own, same)
    # the bias needs only the mean unit bias image
    by_mean = prompt_scores(
        torch.tensor(prompts, dtype=torch.float32), torch.tensor(x), bias_mean=mean_unit(torch.tensor(b))
    )
    np.testing.assert_allclose(by_mean.numpy(), expected, rtol=1e-4, atol=1e-4)


def test_informative_prompts_rank_above_uninformative_and_biased_ones():
    prompts, images, labels = _world()
    scores = prompt_scores(prompts, images)
    assert scores[:2].min() > scores[2:].max()
    weights = prompt_weights(scores, temperature=1.0)
    assert weights.sum().item() == pytest.approx(1.0, abs=1e-6)
    assert weights[:2].sum() > 0.9
    # the weighted classifiers beat the plain ensemble, which the uninformative prompts blur
    weighted = _accuracy(combine_prompts(prompts, weights), images, labels)
    assert weighted > _accuracy(ensemble_prompts(prompts), images, labels) + 0.05  # measured: 0.86 vs 0.77


def test_debiasing_is_what_demotes_the_biased_prompt():
    prompts, images, labels = _world()
    # bias measured on images far from the test images (a single other direction): the class
    # the images lean to is no longer corrected, and the biased prompt scores higher
    elsewhere = _unit(torch.randn(1, images.shape[1], generator=torch.Generator().manual_seed(5)))
    debiased = prompt_scores(prompts, images)
    not_debiased = prompt_scores(prompts, images, elsewhere.repeat(4, 1))
    assert not_debiased[4] - not_debiased[:2].mean() > debiased[4] - debiased[:2].mean()


def test_temperature_goes_from_the_best_prompt_to_the_plain_mean():
    scores = torch.tensor([3.0, 1.0, 0.5])
    assert prompt_weights(scores, 1e-3).argmax().item() == 0
    assert prompt_weights(scores, 1e-3)[0].item() == pytest.approx(1.0)
    torch.testing.assert_close(prompt_weights(scores, 1e6), torch.full((3,), 1 / 3))
    with pytest.raises(ConfigError, match="temperature"):
        prompt_weights(scores, 0.0)


def test_robust_z_selection_keeps_only_outstanding_prompts():
    scores = torch.tensor([1.0, 1.1, 0.9, 1.05, 5.0, 3.0])
    # median 1.075, MAD 0.1 · 1.4826: only 5.0 and 3.0 are more than 2 robust SDs above
    w = prompt_weights(scores, temperature=10.0, select_z=2.0)
    assert (w[:4] == 0).all() and w[4] > w[5] > 0 and w.sum().item() == pytest.approx(1.0)
    # all scores equal (MAD 0): the best prompt is kept, never none
    assert prompt_weights(torch.ones(3), select_z=1.0).sum().item() == pytest.approx(1.0)


def test_ensemble_is_the_normalised_mean_of_unit_embeddings():
    prompts = _unit(torch.randn(4, 3, 8, generator=torch.Generator().manual_seed(1)))
    expected = _unit(prompts.mean(0))
    torch.testing.assert_close(ensemble_prompts(prompts), expected)
    one_hot = torch.tensor([0.0, 1.0, 0.0, 0.0])
    torch.testing.assert_close(combine_prompts(prompts, one_hot), prompts[1])


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="prompts"):
        prompt_scores(torch.randn(2, 3, 4), torch.randn(5, 6))
    with pytest.raises(ValueError, match="no unlabelled images"):
        prompt_scores(torch.randn(2, 3, 4), torch.randn(0, 4))
