"""The toy fixtures of kgzsl.testing that the contract rests on, and its generative methods' checks."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from kgzsl.methods.eszsl import ESZSL
from kgzsl.registry import METHODS
from kgzsl.testing import (
    CHANCE,
    EXTRA_CLASS,
    SEEN_CHANCE,
    TOY_CLASSES,
    check_generative_beats_chance,
    check_same_seed_same_numbers,
    check_save_load,
    check_training_log,
    contract_task,
    cpu_context,
    toy_dataset,
    toy_kg_attributes,
    toy_task,
)


def test_toy_kg_attributes_are_the_ontologys():
    matrix, names = toy_kg_attributes()
    assert matrix.shape == (len(TOY_CLASSES), len(names)) == (11, 17)
    row = dict(zip(names, matrix[TOY_CLASSES.index("penguin")]))
    assert {n for n, v in row.items() if v} == {"feathers", "beak", "swims"}
    assert matrix.sum(0).min() >= 1  # every attribute belongs to some class


def test_kg_attributes_keep_the_sizes_and_splits_of_the_random_toy():
    a, b = toy_dataset(3), toy_dataset(3, attributes="kg")
    np.testing.assert_array_equal(a.labels, b.labels)
    for split in a.splits:
        np.testing.assert_array_equal(a.splits[split], b.splits[split])
    np.testing.assert_array_equal(b.semantics["attributes"], toy_kg_attributes()[0])


def test_extra_class_is_outside_the_task():
    full, task = toy_task(), toy_task(extra_class=True)
    assert EXTRA_CLASS in full.seen.tolist() and EXTRA_CLASS not in task.candidates.tolist()
    assert EXTRA_CLASS not in task.labels.tolist()
    assert len(task.labels) == len(full.labels) - int((full.labels == EXTRA_CLASS).sum())
    assert task.num_classes == full.num_classes  # its semantics stay


def test_chance_levels_are_the_contract_tasks():
    task, _, _ = contract_task()
    assert CHANCE == 1 / len(task.unseen) and SEEN_CHANCE == 1 / len(task.seen)


# --------------------------------------------------------------------------- the generative methods' checks can fail
#
# ESZSL (closed form, milliseconds) and copies of it broken in one way stand in for a method.


@pytest.fixture
def registered():
    """Register test-only methods (``save`` -> ``load`` rebuilds by registered name), and unregister them after."""
    added: list[str] = []

    def register(cls: type) -> type:
        name = f"broken_{cls.__name__.strip('_').lower()}"
        METHODS.register(name)(cls)
        added.append(name)
        return cls

    yield register
    for name in added:
        METHODS._entries.pop(name, None)


class _Unseeded(ESZSL):
    """Adds noise from a generator the run's seed does not reach."""

    def fit(self, task, classifier=None, context=None):
        super().fit(task, classifier, context)
        g = torch.Generator().manual_seed(int.from_bytes(np.random.default_rng().bytes(4), "little"))
        self.weights_ = self.weights_ + 1e-3 * torch.randn(self.weights_.shape, generator=g)
        return self


class _PerturbedOnLoad(ESZSL):
    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.weights_ = self.weights_ + 1e-3


class _Chance(ESZSL):
    """Scores that ignore the image: chance level."""

    def decision_function(self, features):
        scores = super().decision_function(features)
        return torch.where(scores.isneginf(), scores, torch.zeros_like(scores))


def test_same_seed_check_fails_on_an_unseeded_method_and_on_one_that_ignores_the_seed():
    task, test, _ = contract_task()
    with pytest.raises(AssertionError, match=r"the same seed \(0\) gave other scores"):
        check_same_seed_same_numbers(_Unseeded, task, test)
    # ESZSL is deterministic whatever the seed: it passes the first clause, not the second
    runs = check_same_seed_same_numbers(ESZSL, task, test, other_seed=None)
    assert len(runs) == 2 and isinstance(runs[0][0], ESZSL)
    with pytest.raises(AssertionError, match=r"another seed \(1\) gave the same scores"):
        check_same_seed_same_numbers(ESZSL, task, test)


def test_save_load_check_fails_when_load_changes_the_scores(registered, tmp_path: Path):
    task, test, _ = contract_task()
    ok = ESZSL().fit(task, context=cpu_context())
    assert type(check_save_load(ok, tmp_path, test, classes=None)) is ESZSL
    registered(_PerturbedOnLoad)
    broken = _PerturbedOnLoad().fit(task, context=cpu_context())
    with pytest.raises(AssertionError, match="save -> load changed the scores"):
        check_save_load(broken, tmp_path, test, classes=None)


def test_beats_chance_check_fails_at_chance():
    measured = check_generative_beats_chance(ESZSL, {"zsl/top1": CHANCE})
    assert {"zsl/top1", "gzsl/seen", "gzsl/unseen", "gzsl/h"} <= set(measured)
    # ties count as expected hits: a constant score is GZSL chance, 1/10 on each side of the toy task
    with pytest.raises(AssertionError, match=r"gzsl/h 0\.100 <= 0\.200"):
        check_generative_beats_chance(_Chance, {"gzsl/h": 0.2})
    with pytest.raises(AssertionError, match="no metric 'gzsl/H'"):
        check_generative_beats_chance(ESZSL, {"gzsl/H": 0.1})


def test_training_log_check_fails_on_a_missing_epoch_a_missing_loss_or_a_nan():
    def fitted(*rows):
        return SimpleNamespace(registry_name="fake", train_log_=[{"stage": "generator", **r} for r in rows])

    good = fitted({"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.4})
    assert len(check_training_log(good, {"loss"}, epochs=2)) == 2
    with pytest.raises(AssertionError, match=r"generator epochs logged \[1, 2\]"):
        check_training_log(good, {"loss"}, epochs=3)
    with pytest.raises(AssertionError, match=r"has no \['gp'\]"):
        check_training_log(good, {"loss", "gp"}, epochs=2)
    with pytest.raises(AssertionError, match=r"non-finite .* \[\(2, 'loss'\)\]"):
        check_training_log(fitted({"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": float("nan")}), {"loss"}, epochs=2)
