"""Check every shard of an output folder against its manifest."""
import hashlib
import io
import json
import os
import tarfile

import cv2
import numpy as np

from . import manifest as manifests
from .output import open_output


def check_samples(data, channels, num_classes):
    """Count the samples of a shard's bytes, checking each decodes; returns (count, problem)."""
    samples = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar:
                key, _, extension = member.name.partition(".")
                samples.setdefault(key, {})[extension] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError) as e:
        return len(samples), f"unreadable tar ({e})"
    for key, members in samples.items():
        if set(members) != {"png", "cls", "json"}:
            return len(samples), f"sample {key} has members {sorted(members)}"
        image = cv2.imdecode(np.frombuffer(members["png"], np.uint8), cv2.IMREAD_UNCHANGED)
        if image is None or (image.ndim == 2) != (channels == 1):
            return len(samples), f"sample {key}: PNG does not decode to {channels} channel(s)"
        try:
            label = int(members["cls"])
            json.loads(members["json"])
        except ValueError:
            return len(samples), f"sample {key}: bad .cls or .json"
        if num_classes is not None and not 0 <= label < num_classes:
            return len(samples), f"sample {key}: class {label} out of range"
    return len(samples), None


def check_shard(output, entry, channels, num_classes, decode=True):
    """Problems of one shard, as a list of strings (empty when it is good)."""
    size = output.size(entry["file"])
    if size is None:
        return ["missing"]
    if size != entry["bytes"]:
        return [f"size {size} != {entry['bytes']} in the manifest"]
    data = output.read_bytes(entry["file"])
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        return ["sha256 differs from the manifest"]
    if not decode:
        return []
    count, problem = check_samples(data, channels, num_classes)
    problems = [problem] if problem else []
    if count != entry["samples"]:
        problems.append(f"{count} samples, manifest says {entry['samples']}")
    return problems


class ShardCheck:
    """``check(index)`` checks shard ``index`` of the manifest: (file, problems). The task
    that ``verify`` runs on an engine."""

    def __init__(self, output, manifest, decode):
        self.output, self.entries, self.decode = output, manifest["shards"], decode
        self.channels = manifest.get("image_channels", 1)
        self.num_classes = manifest["num_classes"] if manifest.get("labelled", True) else None

    def __call__(self, index):
        entry = self.entries[index]
        return entry["file"], check_shard(self.output, entry, self.channels, self.num_classes, self.decode)

    def describe(self, index):
        return f"checking {self.entries[index]['file']}"


def verify(out, engine, decode=True):
    """Returns (problems, manifest): problems is a list of (shard file or 'manifest', reason).
    The shards are checked on ``engine``. A folder that is not an fdsl dataset is a UsageError."""
    output = open_output(os.fspath(out))
    manifest = manifests.read_dataset(output)
    if manifest.get("status") != manifests.COMPLETE:
        return [("manifest", f"status is {manifest.get('status')!r}, not complete: rerun the generation command")], manifest
    results = {}
    with engine:
        engine.run(ShardCheck(output, manifest, decode), range(len(manifest["shards"])),
                   lambda result: results.update([result]))
    problems = [(entry["file"], p) for entry in manifest["shards"] for p in results[entry["file"]]]
    total = sum(entry["samples"] for entry in manifest["shards"])
    if total != manifest["num_samples"]:
        problems.append(("manifest", f"shards hold {total} samples, manifest says {manifest['num_samples']}"))
    return problems, manifest
