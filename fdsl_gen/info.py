"""fdsl-gen info: what a dataset folder holds, in a few lines or as JSON."""
from . import manifest as manifests
from .generate import completed_stats
from .output import open_output
from .reproduce import command
from .shards import shard_name


def summary(out):
    """What ``out`` holds, as a dict (fdsl-gen info --json)."""
    manifest = manifests.read_dataset(out)
    written = manifest.get("shards")
    if written is None:  # not complete: the shards written so far
        name = manifest["config"]["name"]
        files = [shard_name(name, s) for s in range(manifest["num_shards"])]
        written = [stats for stats in completed_stats(open_output(out), files).values() if stats is not None]
    return {
        "path": out,
        "family": manifest["family"],
        "status": manifest["status"],
        "labelled": manifest["labelled"],
        "classes": manifest["num_classes"] if manifest["labelled"] else None,
        "instances_per_class": manifest["instances_per_class"] if manifest["labelled"] else None,
        "samples": manifest["num_samples"],
        "image_size": manifest["config"].get("image_size"),
        "image_channels": manifest["image_channels"],
        "shards": manifest["num_shards"],
        "shards_written": 0 if manifest["status"] == manifests.SEARCH_ONLY else len(written),
        "bytes": sum(stats["bytes"] for stats in written),
        "diverged_samples": sum(stats.get("diverged", 0) for stats in written),
        "command": command(manifest, out),
    }


def _size(count):
    if count < 1000:
        return f"{count} B"
    for unit in ("kB", "MB", "GB", "TB"):
        count /= 1000
        if count < 1000 or unit == "TB":
            return f"{count:.1f} {unit}"


def describe(info):
    """``summary`` as a few lines for a person."""
    pixels = f"{info['image_size']} px " if info["image_size"] else ""
    kind = f"{pixels}{'grey' if info['image_channels'] == 1 else 'RGB'}"
    if info["labelled"]:
        counts = f"{info['classes']:,} classes x {info['instances_per_class']:,} images = {info['samples']:,} samples"
    else:
        counts = f"{info['samples']:,} unlabelled images"
    if info["status"] == manifests.SEARCH_ONLY:
        written = "class table only (--search-only): no shards"
    elif info["status"] == manifests.COMPLETE:
        written = f"{info['shards']:,} shard{'s' if info['shards'] > 1 else ''}, {_size(info['bytes'])}"
    else:
        written = (f"{info['shards_written']:,} of {info['shards']:,} shards written, {_size(info['bytes'])}; "
                   "rerun the command to resume")
    return [
        f"{info['path']}: {info['family']}, {info['status']}",
        f"{counts}, {kind}; {written}",
        f"diverged samples: {info['diverged_samples']:,}",
        f"command: {info['command']}",
    ]
