"""The toy fixtures of kgzsl.testing that the contract rests on (its checks are tested in test_contract.py)."""

import numpy as np

from kgzsl.testing import (
    CHANCE,
    EXTRA_CLASS,
    SEEN_CHANCE,
    TOY_CLASSES,
    contract_task,
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
