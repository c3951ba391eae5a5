"""A generation run: config -> class table -> plan -> shard tasks -> manifest.

Rerunning the same command on the same --out resumes it: the class table is taken from the
manifest, shards whose stats file and tar are both present are kept, the rest are rendered.
"""
import contextlib
import fcntl
import json
import os
import re

import tqdm

from . import cards, manifest as manifests
from .engines import local
from .errors import GenerationError, UsageError
from .plan import Plan
from .shards import TMP_SUFFIX, shard_name
from .worker import STATE_DIR, stats_path

LOCK = "lock"  # in STATE_DIR: held by the run that writes the folder


def _own_files(out, names):
    """Files in ``out`` that a run with one of these dataset names writes."""
    shard = re.compile("^(" + "|".join(re.escape(n) for n in names) + r")-\d{6}\.tar(" + re.escape(TMP_SUFFIX) + ")?$")
    fixed = {manifests.MANIFEST, manifests.TIMM_INFO, manifests.MANIFEST + TMP_SUFFIX, manifests.TIMM_INFO + TMP_SUFFIX}
    return [f for f in os.listdir(out) if f in fixed or shard.match(f)]


def _clear(out, names):
    for f in _own_files(out, names):
        os.remove(os.path.join(out, f))
    state = os.path.join(out, STATE_DIR)
    for f in os.listdir(state):
        if f != LOCK:  # the lock file stays: this run holds it
            os.remove(os.path.join(state, f))


def _remove_temporaries(out):
    for folder in (out, os.path.join(out, STATE_DIR)):
        for f in os.listdir(folder):
            if f.endswith(TMP_SUFFIX):
                os.remove(os.path.join(folder, f))


def _differences(old, new):
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k)]


def make_out(out):
    """Create ``out`` and its state folder, and check that it can be written."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise UsageError(f"--out {out} exists and is not a folder")
    try:
        os.makedirs(os.path.join(out, STATE_DIR), exist_ok=True)
        probe = os.path.join(out, STATE_DIR, "write-test")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as e:
        raise UsageError(f"cannot write to --out {out}: {e.strerror}") from None


@contextlib.contextmanager
def output_lock(out):
    """Hold an advisory lock on ``out`` for the run, so that a second fdsl-gen writing the same
    folder is refused. The kernel drops the lock when its process ends, however it ends, so a
    killed run never blocks the next one. (flock: local file systems; not every network file
    system honours it.)"""
    descriptor = os.open(os.path.join(out, STATE_DIR, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "unknown"
            raise UsageError(f"--out {out} is being written by another fdsl-gen (pid {holder}); "
                             "wait for it to finish or stop it, then rerun") from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)


def prepare_out(out, run_config, overwrite):
    """Make the locked ``out`` ready; return the existing manifest when this run resumes it."""
    existing = manifests.read(out)
    name = run_config["name"]
    if existing is None:
        strangers = [f for f in os.listdir(out) if f != STATE_DIR]
        if strangers and not overwrite:
            raise UsageError(f"--out {out} is not empty and holds no fdsl manifest; pass --overwrite to replace fdsl files there")
        _clear(out, [name])
    elif overwrite:
        _clear(out, [name, existing.get("config", {}).get("name", name)])
        cards.remove_cards(out)
        existing = None
    elif existing.get("config") != run_config:
        changed = ", ".join(_differences(existing.get("config", {}), run_config))
        raise UsageError(f"--out {out} holds a dataset made with a different configuration ({changed}); pass --overwrite to replace it")
    return existing


def _completed_stats(out, file_name):
    """The stats of a complete shard, or None when it must be rendered (again)."""
    shard_path = os.path.join(out, file_name)
    try:
        with open(stats_path(out, file_name)) as f:
            stats = json.load(f)
        if os.path.getsize(shard_path) == stats["bytes"]:
            return stats
    except (OSError, ValueError, KeyError):
        pass
    return None


def generate(family_cls, config, out, name, shard_size, workers, overwrite=False, search_only=False, progress=True):
    """Run (or resume) a generation; returns the final manifest."""
    make_out(out)
    with output_lock(out):
        return _generate(family_cls, config, out, name, shard_size, workers, overwrite, search_only, progress)


def _generate(family_cls, config, out, name, shard_size, workers, overwrite, search_only, progress):
    run_config = dict(config, family=family_cls.name, name=name, shard_size=shard_size)
    existing = prepare_out(out, run_config, overwrite)
    parallel_map = local.thread_map(workers)
    if existing is not None:
        class_table, class_source = existing.get("classes"), existing["class_source"]
    else:
        with tqdm.tqdm(total=config.get("classes"), desc="classes", unit="class", disable=not progress) as bar:

            def on_search(accepted, examined):
                bar.update(accepted - bar.n)
                bar.set_postfix(candidates=examined, refresh=False)

            class_table, class_source = family_cls.build_class_table(config, parallel_map, on_search)
    family = family_cls(config, class_table)
    plan = Plan.of(family, shard_size, config["seed"])
    status = manifests.SEARCH_ONLY if search_only else manifests.IN_PROGRESS
    if existing is None or existing["status"] != manifests.COMPLETE:
        manifests.write(out, manifests.build(family, run_config, class_source, plan, status))
    if search_only:
        return manifests.read(out)

    family.prepare(parallel_map)
    shard_index = {shard_name(name, s): s for s in range(plan.num_shards)}
    stats = {s: _completed_stats(out, f) for f, s in shard_index.items()}
    pending = [s for s, st in stats.items() if st is None]
    _remove_temporaries(out)
    if pending and existing is not None and existing["status"] == manifests.COMPLETE:
        manifests.write(out, manifests.build(family, run_config, class_source, plan, manifests.IN_PROGRESS))
        cards.remove_cards(out)

    done = sum(stats[s]["samples"] for s in stats if stats[s] is not None)
    with tqdm.tqdm(total=plan.num_samples, initial=done, desc=name, unit="img", disable=not progress) as bar:

        def on_done(shard_stats):
            stats[shard_index[shard_stats["file"]]] = shard_stats
            bar.update(shard_stats["samples"])

        try:
            local.run(family, plan, out, name, pending, workers, on_done)
        except BaseException:
            _remove_temporaries(out)  # of workers stopped mid-write
            raise

    shards = [stats[s] for s in range(plan.num_shards)]
    if any(s is None for s in shards) or sum(s["samples"] for s in shards) != plan.num_samples:
        raise GenerationError("some shards were not written; rerun the same command to resume")
    final = manifests.build(family, run_config, class_source, plan, manifests.COMPLETE, shards)
    manifests.write_timm_info(out, name, shards)
    manifests.write(out, final)
    cards.write_cards(out, final)
    return final
