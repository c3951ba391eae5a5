"""The dataset cut into shard tasks.

Render groups (see families.base) are the units: group g is group g % groups_per_class of
class g // groups_per_class. A seeded bijection (rng.permute) spreads the groups over the
shards, so every shard mixes many classes; inside a shard, samples are shuffled again with a
per-shard seed. Both are pure functions of (seed, shard index): any worker can plan any shard
alone, and nothing proportional to the dataset size is ever held in memory.

So the shards can be split over machines with no coordination: with a ``NodeSplit``, node R
of N renders the shards i with i % N == R.
"""
import math
from dataclasses import dataclass

import numpy as np

from . import rng
from .errors import UsageError


@dataclass(frozen=True)
class Plan:
    num_classes: int
    instances_per_class: int
    group_size: int
    shard_size: int  # target samples per shard; shards hold whole groups
    seed: int

    @classmethod
    def of(cls, family, shard_size, seed):
        """The plan of a family's dataset (its classes, instances and render groups)."""
        return cls(family.num_classes, family.instances_per_class, family.group_size, shard_size, seed)

    @property
    def groups_per_class(self):
        return math.ceil(self.instances_per_class / self.group_size)

    @property
    def num_groups(self):
        return self.num_classes * self.groups_per_class

    @property
    def groups_per_shard(self):
        return max(1, self.shard_size // self.group_size)

    @property
    def num_shards(self):
        return math.ceil(self.num_groups / self.groups_per_shard)

    @property
    def num_samples(self):
        return self.num_classes * self.instances_per_class

    def shard_groups(self, shard):
        """(class index, group in class) of every group of ``shard``, in render order."""
        first = shard * self.groups_per_shard
        positions = np.arange(first, min(first + self.groups_per_shard, self.num_groups))
        groups = rng.permute(positions, self.num_groups, rng.derive_key(self.seed, rng.ORDER))
        groups.sort()  # render order does not matter (samples are shuffled); sorted is cache-friendly
        return [divmod(int(g), self.groups_per_class) for g in groups]

    def shard_of(self, class_index, group_in_class):
        """The shard that holds a group (the inverse of ``shard_groups``)."""
        group = class_index * self.groups_per_class + group_in_class
        position = rng.unpermute([group], self.num_groups, rng.derive_key(self.seed, rng.ORDER))[0]
        return int(position) // self.groups_per_shard

    def shard_sample_count(self, shard):
        """The number of samples of ``shard`` (the last group of a class may be short)."""
        last = self.instances_per_class - (self.groups_per_class - 1) * self.group_size
        return sum(last if g == self.groups_per_class - 1 else self.group_size for _, g in self.shard_groups(shard))

    def sample_order(self, shard, count):
        """The shuffled order of the ``count`` samples of ``shard``."""
        key = rng.derive_key(self.seed, rng.SHARD_SHUFFLE, shard)
        return np.random.Generator(np.random.PCG64(key)).permutation(count)


@dataclass(frozen=True)
class NodeSplit:
    """Node ``rank`` of ``count`` (Slurm array task, Kubernetes indexed job) renders the
    shards i with i % count == rank into a shared output."""

    count: int = 1
    rank: int = 0

    def __post_init__(self):
        if self.count < 1:
            raise UsageError(f"--num-nodes must be positive, got {self.count}")
        if not 0 <= self.rank < self.count:
            raise UsageError(f"--node-rank must be in [0, {self.count}) for --num-nodes {self.count}, got {self.rank}")

    def __str__(self):
        return f"node rank {self.rank} of {self.count}"

    def shards(self, num_shards):
        return range(self.rank, num_shards, self.count)
