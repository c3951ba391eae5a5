"""Check every shard of an output folder against its manifest."""
import hashlib
import io
import json
import multiprocessing
import os
import tarfile

import cv2
import numpy as np

from . import manifest as manifests


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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


def check_shard(out, entry, channels, num_classes, decode=True):
    """Problems of one shard, as a list of strings (empty when it is good)."""
    path = os.path.join(out, entry["file"])
    if not os.path.isfile(path):
        return ["missing"]
    size = os.path.getsize(path)
    if size != entry["bytes"]:
        return [f"size {size} != {entry['bytes']} in the manifest"]
    with open(path, "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        return ["sha256 differs from the manifest"]
    if not decode:
        return []
    count, problem = check_samples(data, channels, num_classes)
    problems = [problem] if problem else []
    if count != entry["samples"]:
        problems.append(f"{count} samples, manifest says {entry['samples']}")
    return problems


def _check_shard_star(args):
    return args[1]["file"], check_shard(*args)


def verify(out, workers=1, decode=True):
    """Returns (problems, manifest): problems is a list of (shard file or 'manifest', reason).
    A folder that is not an fdsl dataset is a UsageError."""
    manifest = manifests.read_dataset(out)
    if manifest.get("status") != manifests.COMPLETE:
        return [("manifest", f"status is {manifest.get('status')!r}, not complete: rerun the generation command")], manifest
    channels = manifest.get("image_channels", 1)
    num_classes = manifest["num_classes"] if manifest.get("labelled", True) else None
    tasks = [(out, entry, channels, num_classes, decode) for entry in manifest["shards"]]
    if workers > 1 and len(tasks) > 1:
        with multiprocessing.get_context("spawn").Pool(min(workers, len(tasks))) as pool:
            results = pool.map(_check_shard_star, tasks, chunksize=1)
    else:
        results = [_check_shard_star(t) for t in tasks]
    problems = [(file, p) for file, shard_problems in results for p in shard_problems]
    total = sum(entry["samples"] for entry in manifest["shards"])
    if total != manifest["num_samples"]:
        problems.append(("manifest", f"shards hold {total} samples, manifest says {manifest['num_samples']}"))
    return problems, manifest
