"""A generation run: config -> class table -> plan -> shard tasks on an engine -> manifest.

Rerunning the same command on the same --out resumes it: the class table is taken from the
manifest, shards whose completion record and shard (of the recorded size) are both present
are kept, the rest are rendered. With a node split, node R of N renders only the shards i
with i % N == R, and ``finalize`` completes the dataset once every node has run. Planning,
resume and the manifest live here whatever the engine.
"""
import json
import os
import re
import sys

import tqdm

from . import cards, manifest as manifests
from .engines.base import one_line
from .errors import GenerationError, UsageError
from .families import get_family
from .output import LOCK, STATE_DIR, open_output, record_name
from .plan import NodeSplit, Plan
from .shards import TMP_SUFFIX, shard_name
from .worker import ShardTask

OUTPUT_KEYS = ("family", "name", "shard_size")  # what a run's configuration adds to the family's


def _own_files(entries, names):
    """Of the ``entries`` of an output, the files a run with one of these dataset names writes."""
    shard = re.compile("^(" + "|".join(re.escape(n) for n in names) + r")-\d{6}\.tar(" + re.escape(TMP_SUFFIX) + ")?$")
    fixed = {manifests.MANIFEST, manifests.TIMM_INFO, manifests.MANIFEST + TMP_SUFFIX, manifests.TIMM_INFO + TMP_SUFFIX}
    return [f for f in entries if f in fixed or shard.match(f)]


def _clear(output, names):
    for f in _own_files(output.entries(), names):
        output.remove(f)
    for f in output.entries(STATE_DIR):
        if not f.startswith(LOCK):  # the locks stay: this run holds one
            output.remove(f"{STATE_DIR}/{f}")


def _manifest_tmp(node):
    """Node-split runs write the same manifest at once, each through its own temporary."""
    return None if node.count == 1 else f"{manifests.MANIFEST}.node-{node.rank}{TMP_SUFFIX}"


def _remove_temporaries(output, node, shard_files):
    """Remove what writers stopped mid-write left: all of it, or a node's own only (the
    temporaries of its shards, their records and its manifest), since other nodes may be
    writing theirs right now."""
    own = None
    if node.count > 1:
        own = {f + suffix + TMP_SUFFIX for f in shard_files for suffix in ("", ".json")} | {_manifest_tmp(node)}
    for folder in ("", STATE_DIR):
        for f in output.entries(folder):
            if f.endswith(TMP_SUFFIX) and (own is None or f in own):
                output.remove(f"{folder}/{f}" if folder else f)


def _differences(old, new):
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k)]


def prepare_out(output, run_config, overwrite, node):
    """Make the locked output ready; return the existing manifest when this run resumes it."""
    existing = manifests.read(output)
    name = run_config["name"]
    if existing is None:
        strangers = [f for f in output.entries() if f != STATE_DIR]
        if node.count > 1:
            # nodes never clear: another node may be writing already; a node's first run needs
            # an empty output (or one holding only the temporaries of nodes starting too)
            if any(not f.endswith(TMP_SUFFIX) for f in strangers):
                raise UsageError(f"--out {output} is not empty and holds no fdsl manifest; node-split runs "
                                 "need an empty --out")
            return None
        if strangers and not overwrite:
            raise UsageError(f"--out {output} is not empty and holds no fdsl manifest; pass --overwrite to replace fdsl files there")
        _clear(output, [name])
    elif overwrite:
        _clear(output, [name, existing.get("config", {}).get("name", name)])
        cards.remove_cards(output)
        existing = None
    elif existing.get("config") != run_config:
        changed = ", ".join(_differences(existing.get("config", {}), run_config))
        raise UsageError(f"--out {output} holds a dataset made with a different configuration ({changed}); pass --overwrite to replace it")
    return existing


def completed_stats(output, shard_files):
    """{file: its completion record, or None when it must be rendered (again)} of the shards
    ``shard_files``. A record counts only with a shard of the size it records."""
    sizes = output.entries()
    records = output.entries(STATE_DIR)
    stats = {}
    for file_name in shard_files:
        stats[file_name] = None
        if file_name + ".json" in records and sizes.get(file_name) is not None:
            try:
                record = json.loads(output.read_bytes(record_name(file_name)))
                if record["bytes"] == sizes[file_name]:
                    stats[file_name] = record
            except (OSError, ValueError, KeyError, TypeError):
                pass
    return stats


def complete_dataset(output, family, run_config, class_source, plan, shards):
    """Make the dataset complete: timm's _info.json, then the complete manifest, last (the
    status that says so). The one place where a dataset completes, at the end of a run or in
    ``finalize``; anything else a complete dataset holds is written from here."""
    final = manifests.build(family, run_config, class_source, plan, manifests.COMPLETE, shards)
    manifests.write_timm_info(output, run_config["name"], shards)
    manifests.write(output, final)
    cards.write_cards(output, final)
    return final


def generate(family_cls, config, out, name, shard_size, engine, overwrite=False, search_only=False, progress=True,
             node=NodeSplit()):
    """Run (or resume) a generation on ``engine`` (fdsl_gen.engines); returns the manifest:
    complete, or for a node of a split in progress until ``finalize``."""
    output = open_output(os.fspath(out))
    if node.count > 1 and overwrite:
        raise UsageError("--overwrite cannot be used with --num-nodes: nodes would remove each other's "
                         "shards; empty --out instead")
    with engine:  # first: a cluster that cannot be reached leaves no output behind
        output.create()
        with output.lock(node):
            return _generate(family_cls, config, output, name, shard_size, engine, overwrite, search_only, progress,
                             node)


def _generate(family_cls, config, output, name, shard_size, engine, overwrite, search_only, progress, node):
    run_config = dict(config, family=family_cls.name, name=name, shard_size=shard_size)
    existing = prepare_out(output, run_config, overwrite, node)
    if existing is not None:
        class_table, class_source = existing.get("classes"), existing["class_source"]
    else:
        with tqdm.tqdm(total=config.get("classes"), desc="classes", unit="class", disable=not progress) as bar:

            def on_search(accepted, examined):
                bar.update(accepted - bar.n)
                bar.set_postfix(candidates=examined, refresh=False)

            class_table, class_source = family_cls.build_class_table(config, engine.parallel_map, on_search)
    family = family_cls(config, class_table)
    plan = Plan.of(family, shard_size, config["seed"])
    status = manifests.SEARCH_ONLY if search_only else manifests.IN_PROGRESS
    if existing is None or existing["status"] != manifests.COMPLETE:
        manifests.write(output, manifests.build(family, run_config, class_source, plan, status), _manifest_tmp(node))
    if search_only:
        return manifests.read(output)

    family.prepare(engine.parallel_map)
    mine = {shard_name(name, s): s for s in node.shards(plan.num_shards)}
    stats = {mine[f]: st for f, st in completed_stats(output, mine).items()}
    pending = [s for s, st in stats.items() if st is None]
    _remove_temporaries(output, node, mine)
    if pending and existing is not None and existing["status"] == manifests.COMPLETE:
        manifests.write(output, manifests.build(family, run_config, class_source, plan, manifests.IN_PROGRESS),
                        _manifest_tmp(node))
        cards.remove_cards(output)

    total = plan.num_samples if node.count == 1 else sum(map(plan.shard_sample_count, mine.values()))
    done = sum(st["samples"] for st in stats.values() if st is not None)
    with tqdm.tqdm(total=total, initial=done, desc=name, unit="img", disable=not progress) as bar:

        def on_done(shard_stats):
            stats[mine[shard_stats["file"]]] = shard_stats
            bar.update(shard_stats["samples"])

        def on_retry(what, error):
            bar.write(f"fdsl-gen: {what} failed ({one_line(error)}); retrying", file=sys.stderr)

        try:
            engine.run(ShardTask(family, plan, output, name), pending, on_done, on_retry)
        except BaseException:
            _remove_temporaries(output, node, mine)  # of workers stopped mid-write
            raise

    if node.count > 1:
        return manifests.read(output)
    shards = [stats[s] for s in range(plan.num_shards)]
    if any(s is None for s in shards) or sum(s["samples"] for s in shards) != plan.num_samples:
        raise GenerationError("some shards were not written; rerun the same command to resume")
    return complete_dataset(output, family, run_config, class_source, plan, shards)


def finalize(out):
    """Complete a dataset rendered by node-split runs: check that every shard has its
    completion record and write the complete manifest and _info.json. Returns the manifest."""
    output = open_output(os.fspath(out))
    existing = manifests.read_dataset(output)
    if existing["status"] == manifests.SEARCH_ONLY:
        raise UsageError(f"{out} holds only a class table (--search-only): render its shards, then finalize")
    try:
        family_cls = get_family(existing["family"])
    except KeyError:
        raise UsageError(f"{out} holds a dataset of family {existing['family']!r}, unknown to this fdsl-gen") from None
    run_config = existing["config"]
    family = family_cls({k: v for k, v in run_config.items() if k not in OUTPUT_KEYS}, existing.get("classes"))
    plan = Plan.of(family, run_config["shard_size"], run_config["seed"])
    output.create()
    with output.lock():  # no run may write it meanwhile, node-split runs included
        files = [shard_name(run_config["name"], s) for s in range(plan.num_shards)]
        stats = completed_stats(output, files)
        missing = [s for s, f in enumerate(files) if stats[f] is None]
        if missing:
            listed = " ".join(map(str, missing[:20])) + (" ..." if len(missing) > 20 else "")
            raise GenerationError(f"{len(missing)} of {plan.num_shards} shards are not complete (shards {listed}); "
                                  "rerun the node ranks that render them (shard i: rank i % --num-nodes), then "
                                  "finalize again")
        return complete_dataset(output, family, run_config, existing["class_source"], plan, [stats[f] for f in files])
