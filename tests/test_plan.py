"""The shard plan: every group exactly once, shuffled, flat memory at 21M samples."""
import tracemalloc

import numpy as np
import pytest

from fdsl_gen import rng
from fdsl_gen.plan import Plan


@pytest.mark.parametrize("size", [1, 2, 3, 5, 64, 1000, 4097])
def test_permute_is_a_bijection(size):
    result = rng.permute(np.arange(size), size, key=99)
    assert sorted(result.tolist()) == list(range(size))
    if size > 8:
        assert result.tolist() != list(range(size))
        assert not np.array_equal(result, rng.permute(np.arange(size), size, key=100))


def test_every_group_lands_in_exactly_one_shard():
    plan = Plan(num_classes=7, instances_per_class=30, group_size=4, shard_size=20, seed=5)
    assert plan.groups_per_class == 8  # the last group of a class holds 2 instances
    seen = [g for shard in range(plan.num_shards) for g in plan.shard_groups(shard)]
    assert sorted(seen) == [(c, g) for c in range(7) for g in range(8)]
    assert len({c for c, _ in plan.shard_groups(0)}) > 1  # shards mix classes


def test_sample_order_is_a_seeded_permutation():
    plan = Plan(10, 10, 1, 50, seed=1)
    order = plan.sample_order(3, 50)
    assert sorted(order.tolist()) == list(range(50)) and order.tolist() != list(range(50))
    assert np.array_equal(order, plan.sample_order(3, 50))
    assert not np.array_equal(order, plan.sample_order(4, 50))


def test_order_of_21m_samples_needs_no_memory():
    plan = Plan(num_classes=21000, instances_per_class=1000, group_size=4, shard_size=1000, seed=0)
    assert plan.num_samples == 21_000_000
    tracemalloc.start()
    first = plan.shard_groups(0)
    last = plan.shard_groups(plan.num_shards - 1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(first) == 250 and len(last) == 250
    assert peak < 2_000_000  # bytes: independent of the dataset size
    assert len({c for c, _ in first}) > 200


@pytest.mark.parametrize("size", [1, 2, 3, 5, 64, 1000, 4097])
def test_unpermute_inverts_permute(size):
    positions = np.arange(size)
    assert np.array_equal(rng.unpermute(rng.permute(positions, size, key=7), size, key=7), positions)


def test_shard_of_finds_every_group():
    plan = Plan(num_classes=7, instances_per_class=30, group_size=4, shard_size=20, seed=5)
    for shard in range(plan.num_shards):
        for class_index, group in plan.shard_groups(shard):
            assert plan.shard_of(class_index, group) == shard
