"""The interface every dataset family implements, and the family registry.

A family knows its configuration, its class table and how to render the samples of one
render group. It knows nothing of shards, processes or files.
"""
import math

_FAMILIES = {}


def register_family(cls):
    _FAMILIES[cls.name] = cls
    return cls


def get_family(name):
    return _FAMILIES[name]


def family_names():
    return sorted(_FAMILIES)


class Family:
    """Base class. A render group is the unit of rendering: samples that share work (for
    FractalDB the 4 flips of one render). Instance k of a class belongs to group
    k // group_size."""

    name = ""
    labelled = True
    channels = 1  # 1: 8-bit grayscale PNG, 3: RGB PNG
    group_size = 1

    def __init__(self, config, class_table):
        self.config = config
        self.class_table = class_table

    @property
    def num_classes(self):
        return len(self.class_table)

    @property
    def instances_per_class(self):
        return self.config["instances"]

    @property
    def groups_per_class(self):
        return math.ceil(self.instances_per_class / self.group_size)

    def group_instances(self, group_in_class):
        first = group_in_class * self.group_size
        return list(range(first, min(first + self.group_size, self.instances_per_class)))

    def label(self, class_index, instance):
        """The sample's .cls value: the class index (unlabelled families override this)."""
        return class_index

    def render_group(self, class_index, group_in_class):
        """Render one group: a list of (instance, image ndarray uint8, sample metadata dict)."""
        raise NotImplementedError
