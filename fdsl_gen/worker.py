"""Render one shard task: plan its groups, render, encode, write the shard and its stats."""
import json
import os

from .shards import encode_json, encode_png, shard_name, write_atomic, write_shard

STATE_DIR = ".fdsl"  # per-shard stats files: the completion markers used by resume


def stats_path(out, file_name):
    return os.path.join(out, STATE_DIR, file_name + ".json")


def sample_key(class_index, instance):
    return f"{class_index:06d}_{instance:06d}"


def render_shard(family, plan, out, name, shard):
    samples = []
    diverged = 0
    for class_index, instance, image, meta in family.render_groups(plan.shard_groups(shard)):
        diverged += bool(meta.get("diverged"))
        label = family.label(class_index, instance)
        members = [("cls", str(label).encode()), ("json", encode_json(meta)), ("png", encode_png(image, family.png_params))]
        samples.append((sample_key(class_index, instance), members))
    order = plan.sample_order(shard, len(samples))
    file_name = shard_name(name, shard)
    stats = write_shard(out, file_name, [samples[i] for i in order])
    stats["diverged"] = diverged
    write_atomic(stats_path(out, file_name), json.dumps(stats).encode())
    return stats


# Process-pool plumbing: the family and plan are sent once per worker process.
_context = {}


def init_process(family, plan, out, name):
    _context.update(family=family, plan=plan, out=out, name=name)


def render_shard_in_process(shard):
    return render_shard(_context["family"], _context["plan"], _context["out"], _context["name"], shard)
