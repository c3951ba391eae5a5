"""Render one shard task: plan its groups, render, encode, write the shard and its stats."""
import json
import os

from .shards import encode_json, encode_png, shard_name, write_atomic, write_shard

STATE_DIR = ".fdsl"  # per-shard stats files: the completion markers used by resume


def stats_path(out, file_name):
    return os.path.join(out, STATE_DIR, file_name + ".json")


def sample_key(class_index, instance):
    return f"{class_index:06d}_{instance:06d}"


def shard_samples(family, plan, shard):
    """The samples of ``shard``, rendered, in the order the shard stores them:
    (key, label, image, metadata) each."""
    rendered = [(sample_key(class_index, instance), family.label(class_index, instance), image, meta)
                for class_index, instance, image, meta in family.render_groups(plan.shard_groups(shard))]
    return [rendered[k] for k in plan.sample_order(shard, len(rendered))]


def render_shard(family, plan, out, name, shard):
    samples = []
    diverged = 0
    for key, label, image, meta in shard_samples(family, plan, shard):
        diverged += bool(meta.get("diverged"))
        members = [("cls", str(label).encode()), ("json", encode_json(meta)), ("png", encode_png(image, family.png_params))]
        samples.append((key, members))
    file_name = shard_name(name, shard)
    stats = write_shard(out, file_name, samples)
    stats["diverged"] = diverged
    write_atomic(stats_path(out, file_name), json.dumps(stats).encode())
    return stats


# Process-pool plumbing: the family and plan are sent once per worker process.
_context = {}


def init_process(family, plan, out, name):
    _context.update(family=family, plan=plan, out=out, name=name)


def render_shard_in_process(shard):
    return render_shard(_context["family"], _context["plan"], _context["out"], _context["name"], shard)
