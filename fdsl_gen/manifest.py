"""The dataset manifest ({out}/manifest.json) and timm's {out}/_info.json, in an output of
fdsl_gen.output (a folder or an object-store URL).

The manifest is written before any image exists (status "in-progress", with the class table)
and rewritten at the end with every shard's stats (status "complete"). It holds no timestamps
or machine facts, so it is a pure function of the command line too.
"""
import json
import os

from . import __version__
from .errors import GenerationError, UsageError

FORMAT = "fdsl-manifest"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TIMM_INFO = "_info.json"

IN_PROGRESS = "in-progress"
SEARCH_ONLY = "search-only"
COMPLETE = "complete"


def build(family, run_config, class_source, plan, status, shards=None):
    """The manifest dict. ``family`` is a Family instance, ``run_config`` the full configuration
    that defines the output (it is compared on resume)."""
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tool": "fdsl-gen",
        "tool_version": __version__,
        "family": family.name,
        "status": status,
        "labelled": family.labelled,
        "image_channels": family.channels,
        "seed": run_config["seed"],
        "config": run_config,
        "class_source": class_source,
        "num_classes": family.num_classes,
        "instances_per_class": family.instances_per_class,
        "num_samples": plan.num_samples,
        "num_shards": plan.num_shards,
    }
    if family.class_table is not None:  # unlabelled families have no per-class table
        manifest["classes"] = family.class_table
    if shards is not None:
        manifest["shards"] = shards
        manifest["diverged_samples"] = sum(s.get("diverged", 0) for s in shards)
    return manifest


def write(output, manifest, tmp_name=None):
    """Write the manifest into ``output`` (fdsl_gen.output) whole or not at all; writers that
    may run at once (node-split runs) each pass their own ``tmp_name``."""
    output.write_atomic(MANIFEST, json.dumps(manifest, indent=1).encode() + b"\n", tmp_name)


def read(output):
    """The manifest in ``output`` (an fdsl_gen.output, or a folder's path), or None if there is
    none."""
    if isinstance(output, (str, os.PathLike)):
        from .output import open_output  # imported here: output imports the shard writer

        output = open_output(os.fspath(output))
    location = output.location(MANIFEST)
    try:
        data = output.read_bytes(MANIFEST)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise GenerationError(f"{location} is unreadable: {e.strerror}") from None
    return parse(data, location)


def read_dataset(out):
    """The manifest of the fdsl dataset at ``out`` (a folder's path or URL, or an
    fdsl_gen.output); a UsageError for anything that is none."""
    from .output import open_output

    output = open_output(os.fspath(out)) if isinstance(out, (str, os.PathLike)) else out
    if not output.is_folder():
        raise UsageError(f"{out} is not a folder")
    try:
        manifest = read(output)
    except GenerationError as e:
        raise UsageError(f"{out} is not an fdsl dataset: {e}") from None
    if manifest is None:
        raise UsageError(f"{out} is not an fdsl dataset: it has no {MANIFEST}")
    return manifest


def read_file(path):
    """The manifest in the file ``path``: OSError if it cannot be opened, GenerationError if
    it is not an fdsl manifest."""
    with open(path, "rb") as f:
        return parse(f.read(), path)


def parse(data, where):
    """The manifest in ``data`` (read from ``where``); GenerationError if it is not one."""
    try:
        manifest = json.loads(data)
    except ValueError as e:
        raise GenerationError(f"{where} is unreadable: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise GenerationError(f"{where} is not an fdsl manifest")
    return manifest


def write_timm_info(output, name, shards):
    """timm's wds reader info: one split 'train' listing every shard and its length."""
    info = {
        "name": name,
        "splits": {
            "train": {
                "name": "train",
                "num_samples": sum(s["samples"] for s in shards),
                "filenames": [s["file"] for s in shards],
                "shard_lengths": [s["samples"] for s in shards],
            }
        },
    }
    output.write_atomic(TIMM_INFO, json.dumps(info, indent=1).encode() + b"\n")
