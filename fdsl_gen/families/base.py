"""The interface every dataset family implements, and the family registry.

A family knows its configuration, its class table and how to render the samples of one
render group. It knows nothing of shards, processes or files.
"""
import math

from ..errors import UsageError

_FAMILIES = {}


def register_family(cls):
    _FAMILIES[cls.name] = cls
    return cls


def with_defaults(options, defaults):
    """The options, with ``defaults`` wherever an option is missing or None (not given)."""
    return {k: (options.get(k) if options.get(k) is not None else v) for k, v in defaults.items()}


class Family:
    """Base class. A render group is the unit of rendering: samples that share work (for
    FractalDB the 4 flips of one render). Instance k of a class belongs to group
    k // group_size."""

    name = ""
    labelled = True
    channels = 1  # 1: 8-bit grayscale PNG, 3: RGB PNG
    group_size = 1
    png_params = None  # pinned cv2.imencode PNG parameters; None: the shard writer's default

    @classmethod
    def recipe_options(cls, recipe):
        """A --recipe's keys as option names. A family whose published recipes use another
        vocabulary (VisualAtom: the reference script's argument names) translates them here."""
        return recipe

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


class UnlabelledFamily(Family):
    """A set of N unrelated images for self-supervised learning: image i is "class" i with
    a single instance, and its .cls is i. There is no per-class table (``class_table`` is
    None: N can be millions); the number of images is ``config["images"]``."""

    labelled = False

    @classmethod
    def check_image_options(cls, config, min_image_size):
        """Validate the options every image set has: images, image_size, seed."""
        if config["images"] < 1:
            raise UsageError(f"--images must be positive, got {config['images']}")
        if config["image_size"] < min_image_size:
            raise UsageError(f"--image-size must be at least {min_image_size}, got {config['image_size']}")
        if not 0 <= config["seed"] < 2**32:
            raise UsageError(f"--seed must be in [0, 2**32), got {config['seed']}")

    @classmethod
    def build_class_table(cls, config, workers=1, on_progress=None):
        return None, {"source": "none: unlabelled, one class per image"}

    @property
    def num_classes(self):
        return self.config["images"]

    @property
    def instances_per_class(self):
        return 1

    def render_group(self, class_index, group_in_class):
        image, meta = self.render_image(class_index)
        return [(0, image, dict(meta, index=class_index))]

    def render_image(self, index):
        """Image ``index``: (image ndarray uint8, sample metadata dict)."""
        raise NotImplementedError
