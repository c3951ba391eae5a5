"""A dataset rendered straight from its manifest, shard by shard, in the order its shards store
their samples: training reads the formulas instead of the shards (fdsl-train --data
render:PATH) and sees the same pixels in the same order.

Every sample is a pure function of (configuration, class table, class, instance), so the
manifest is all it takes; a ``--search-only`` manifest (no shards yet) serves as well as a
complete one. The class table comes from the manifest: nothing is searched again.
"""
import os

from . import manifest as manifests
from .engines.local import thread_map
from .errors import GenerationError, UsageError
from .families import get_family
from .plan import Plan
from .worker import shard_samples


def read_dataset_manifest(path):
    """The manifest of the dataset at ``path``: its folder or its manifest.json."""
    file = os.path.join(path, manifests.MANIFEST) if os.path.isdir(path) else path
    try:
        manifest = manifests.read_file(file)
    except OSError as e:
        raise UsageError(f"cannot read the manifest {file}: {e.strerror}") from None
    except GenerationError as e:
        raise UsageError(str(e)) from None
    if manifest.get("family") is None or manifest.get("config") is None:
        raise UsageError(f"{file} has no family configuration")
    return manifest


class ShardRenderer:
    """``renderer.samples(shard)``: the (key, label, image, metadata) samples of one shard, as
    its tar would hold them. Picklable: it goes to data-loader workers whole, with the
    family's prepared state (VisualAtom's replay class states), so no worker repeats that."""

    def __init__(self, family, plan):
        self.family = family
        self.plan = plan

    @classmethod
    def open(cls, path, instances=None, workers=None):
        """The dataset at ``path`` (folder or manifest.json); ``instances`` per class, more than
        were stored, draws the new ones from their own seeds (``Family.with_instances``)."""
        manifest = read_dataset_manifest(path)
        try:
            family_cls = get_family(manifest["family"])
        except KeyError:
            raise UsageError(f"{path}: unknown family {manifest['family']!r}") from None
        run_config = manifest["config"]
        config = family_cls.configure(run_config)
        if instances is not None:
            if instances < 1:
                raise UsageError(f"--instances must be positive, got {instances}")
            config = family_cls.with_instances(config, instances)
        family = family_cls(config, manifest.get("classes"))
        family.prepare(thread_map(workers or len(os.sched_getaffinity(0))))
        return cls(family, Plan.of(family, run_config["shard_size"], config["seed"]))

    @property
    def num_shards(self):
        return self.plan.num_shards

    @property
    def num_samples(self):
        return self.plan.num_samples

    @property
    def num_classes(self):
        return self.family.num_classes

    @property
    def labelled(self):
        return self.family.labelled

    def samples(self, shard):
        return shard_samples(self.family, self.plan, shard)
