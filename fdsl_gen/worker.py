"""Render one shard task: plan its groups, render, encode, write the shard and its completion
record. ``ShardTask`` is the picklable render-one-shard function that engines run."""
import json

from .output import record_name
from .shards import encode_json, encode_png, shard_name, write_shard


def sample_key(class_index, instance):
    return f"{class_index:06d}_{instance:06d}"


def shard_samples(family, plan, shard):
    """The samples of ``shard``, rendered, in the order the shard stores them:
    (key, label, image, metadata) each."""
    rendered = [(sample_key(class_index, instance), family.label(class_index, instance), image, meta)
                for class_index, instance, image, meta in family.render_groups(plan.shard_groups(shard))]
    return [rendered[k] for k in plan.sample_order(shard, len(rendered))]


def render_shard(family, plan, output, name, shard):
    samples = []
    diverged = 0
    for key, label, image, meta in shard_samples(family, plan, shard):
        diverged += bool(meta.get("diverged"))
        members = [("cls", str(label).encode()), ("json", encode_json(meta)), ("png", encode_png(image, family.png_params))]
        samples.append((key, members))
    file_name = shard_name(name, shard)
    stats = write_shard(output, file_name, samples)
    stats["diverged"] = diverged
    output.write_atomic(record_name(file_name), json.dumps(stats).encode())  # last: the shard is complete
    return stats


class ShardTask:
    """``task(shard)`` renders and writes shard ``shard`` and returns its stats. It carries
    the prepared family, the plan and the output, and travels to each worker once."""

    def __init__(self, family, plan, output, name):
        self.family, self.plan, self.output, self.name = family, plan, output, name

    def __call__(self, shard):
        return render_shard(self.family, self.plan, self.output, self.name, shard)

    def describe(self, shard):
        return shard_name(self.name, shard)
