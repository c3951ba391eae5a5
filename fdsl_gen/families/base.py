"""The contract every dataset family implements, and the family registry.

A family is one module in ``fdsl_gen/families/`` that defines one ``Family`` subclass and
registers it with ``@register_family`` (timm's ``@register_model``, for datasets). The class
declares everything the rest of the tool needs:

- ``name``: the CLI command, the default shard prefix and the manifest's ``family``;
- ``help``: the command's help text;
- ``options``: its ``Option``s (name, type, default, help, validation); the CLI builds the
  command from them, and ``configure`` turns given options into the full configuration;
- ``recipes``: its published recipes, by name (``--recipe NAME``);
- ``streams``: the seed streams it derives keys from (``rng.derive_key`` purposes), unique
  across all families;
- ``labelled``, ``channels``, ``group_size``, ``png_params``: what its samples are;
- ``paper``: the publication it reproduces (dataset cards cite it);
- ``preview_keys`` / ``class_summary``: the few class parameters that tell classes apart
  (preview labels);
- ``build_class_table``, ``render_group`` and ``render_sample``: how its samples are made.

A family composes raster kernels; it knows nothing of shards, processes or files.
"""
import math
from dataclasses import dataclass
from typing import Any, Callable

from .. import rng
from ..errors import UsageError

_FAMILIES = {}


def register_family(cls):
    """Class decorator: make a family known by its name. Its seed streams must not collide
    with the plan's or another family's."""
    taken = {purpose: f"the plan's {name}" for name, purpose in rng.PLAN_STREAMS.items()}
    for other in _FAMILIES.values():
        if other.name != cls.name:
            taken.update({purpose: f"{other.name}'s {stream}" for stream, purpose in other.streams.items()})
    for stream, purpose in cls.streams.items():
        if purpose in taken:
            raise ValueError(f"family {cls.name}: seed stream {stream} = {purpose} is already {taken[purpose]}")
    _FAMILIES[cls.name] = cls
    return cls


@dataclass(frozen=True)
class Option:
    """One command-line option of a family: ``--NAME`` (underscores as dashes).

    ``type`` is int, float, str or bool (a flag). ``default`` None means "not given": the
    family's ``finish_config`` then fills in a value that depends on other options, described
    by ``default_text``. Values from the command line or a recipe are checked against
    ``choices``, ``minimum`` and ``maximum`` (inclusive), then by ``check``, which returns an
    error message (completing "--NAME ...") or None.
    """

    name: str
    type: type
    default: Any
    help: str
    default_text: str | None = None
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    check: Callable[[Any], str | None] | None = None

    @property
    def flag(self):
        return "--" + self.name.replace("_", "-")

    def help_text(self):
        shown = self.default_text if self.default_text is not None else self.default
        if self.type is bool or shown is None:
            return self.help
        return f"{self.help} [default: {shown}]".strip()

    def validate(self, value):
        """The value as the configuration holds it; a UsageError for a bad one."""
        if value is None:
            return None
        if self.type is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise UsageError(f"{self.flag} must be a finite number, got {value!r}")
            value = float(value)  # 2 and 2.0 are the same configuration
        elif self.type is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise UsageError(f"{self.flag} must be an integer, got {value!r}")
        elif self.type in (str, bool) and not isinstance(value, self.type):
            raise UsageError(f"{self.flag} must be {'true or false' if self.type is bool else 'a string'}, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise UsageError(f"{self.flag} must be one of {', '.join(map(str, self.choices))}; got {value!r}")
        low, high = self.minimum, self.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            if low is not None and high is not None:
                bounds = f"in [{low}, {high}]"
            elif low is not None:
                bounds = "positive" if low == 1 and self.type is int else f"at least {low}"
            else:
                bounds = f"at most {high}"
            raise UsageError(f"{self.flag} must be {bounds}, got {value}")
        problem = self.check(value) if self.check is not None else None
        if problem:
            raise UsageError(f"{self.flag} {problem}")
        return value


@dataclass(frozen=True)
class Paper:
    """The publication a family comes from, as dataset cards cite it."""

    key: str  # BibTeX key
    title: str
    authors: tuple[str, ...]
    venue: str  # the proceedings, as BibTeX's booktitle
    year: int
    url: str


def seed_option(default, help, maximum=2**32 - 1):
    return Option("seed", int, default, help, minimum=0, maximum=maximum)


class Family:
    """Base class. A render group is the unit of rendering: samples that share work (for
    FractalDB the 4 flips of one render). Instance k of a class belongs to group
    k // group_size."""

    name = ""
    help = ""
    options: tuple[Option, ...] = ()
    recipes: dict[str, dict] = {}
    streams: dict[str, int] = {}
    labelled = True
    channels = 1  # 1: 8-bit grayscale PNG, 3: RGB PNG
    group_size = 1
    png_params = None  # pinned cv2.imencode PNG parameters; None: the shard writer's default
    paper: Paper | None = None
    preview_keys: tuple[str, ...] = ()  # class-table fields shown beside each class in previews

    # ------------------------------------------------------------------ configuration

    @classmethod
    def recipe_options(cls, recipe):
        """A recipe's keys as option names. A family whose published recipes use another
        vocabulary (VisualAtom: the reference script's argument names) translates them here."""
        return recipe

    @classmethod
    def configure(cls, options):
        """Given options (None or missing: not given) -> the full, validated configuration,
        keyed in declaration order (the manifest records it as it is)."""
        config = {}
        for option in cls.options:
            value = options.get(option.name)
            config[option.name] = option.default if value is None else option.validate(value)
        return cls.finish_config(config)

    @classmethod
    def finish_config(cls, config):
        """Derived defaults and checks across options; returns the configuration."""
        return config

    @classmethod
    def with_instances(cls, config, instances):
        """The configuration of the same classes with ``instances`` images each (more than
        were rendered, say, for a run that renders its data: fdsl-train --data render:PATH).
        Instance k stays instance k: it is drawn from its own seeds."""
        if "instances" not in {option.name for option in cls.options}:
            raise UsageError(f"{cls.name} has no --instances: its images are not instances of classes")
        return cls.configure(dict(config, instances=instances))

    @classmethod
    def build_class_table(cls, config, parallel_map=map, on_progress=None):
        """(class table: a list of JSON-able dicts, one per class; a note on its source).

        ``parallel_map(function, items)`` is the engine's ordered, lazy parallel map, for a
        search that has parallel work; ``on_progress(accepted, examined)`` reports it."""
        raise NotImplementedError

    @classmethod
    def class_summary(cls, entry):
        """The key parameters of one class-table entry, {name: value}, for preview labels."""
        return {key: entry[key] for key in cls.preview_keys}

    # ------------------------------------------------------------------ rendering

    def __init__(self, config, class_table):
        self.config = config
        self.class_table = class_table

    def prepare(self, parallel_map=map):
        """Work shared by every shard, done once before the shards are rendered (the family
        object then travels to the workers)."""

    @classmethod
    def stream_key(cls, config, stream, *ids):
        """The 64-bit key of one of this family's seed streams for ``ids``."""
        return rng.derive_key(config["seed"], cls.streams[stream], *ids)

    def key(self, stream, *ids):
        return self.stream_key(self.config, stream, *ids)

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

    def render_groups(self, groups):
        """Render one shard's groups, ``(class index, group in class)`` pairs, in order: yields
        (class index, instance, image, metadata). A family that renders several groups at once
        (a batch on a GPU) overrides this."""
        for class_index, group in groups:
            for instance, image, meta in self.render_group(class_index, group):
                yield class_index, instance, image, meta

    @staticmethod
    def render_sample(meta):
        """Re-render exactly the image of one sample from its .json metadata alone."""
        raise NotImplementedError


class UnlabelledFamily(Family):
    """A set of N unrelated images for self-supervised learning: image i is "class" i with
    a single instance, and its .cls is i. There is no per-class table (``class_table`` is
    None: N can be millions); the number of images is ``config["images"]``."""

    labelled = False

    @classmethod
    def build_class_table(cls, config, parallel_map=map, on_progress=None):
        return None, {"source": "none: unlabelled, one class per image"}

    @property
    def num_classes(self):
        return self.config["images"]

    @property
    def instances_per_class(self):
        return 1

    batch_size = 1  # images that render_images renders together

    def render_group(self, class_index, group_in_class):
        image, meta = self.render_image(class_index)
        return [(0, image, dict(meta, index=class_index))]

    def render_groups(self, groups):
        indices = [class_index for class_index, _ in groups]
        for start in range(0, len(indices), self.batch_size):
            batch = indices[start:start + self.batch_size]
            for index, (image, meta) in zip(batch, self.render_images(batch)):
                yield index, 0, image, dict(meta, index=index)

    def render_image(self, index):
        """Image ``index``: (image ndarray uint8, sample metadata dict)."""
        raise NotImplementedError

    def render_images(self, indices):
        """Images ``indices`` (at most ``batch_size``): a list of (image, metadata)."""
        return [self.render_image(index) for index in indices]


# Dead leaves and the statistical models come from one paper.
LOOKING_AT_NOISE = Paper("baradad2021learning", "Learning to See by Looking at Noise",
                         ("Manel Baradad", "Jonas Wulff", "Tongzhou Wang", "Phillip Isola", "Antonio Torralba"),
                         "Advances in Neural Information Processing Systems (NeurIPS)", 2021,
                         "https://arxiv.org/abs/2106.05963")


def image_set_options(images, image_size, min_image_size, seed, seed_help):
    """The options every unlabelled image set has: --images, --image-size, --seed."""
    return (
        Option("images", int, images, "Number of images.", minimum=1),
        Option("image_size", int, image_size, f"Image side in pixels, at least {min_image_size}.",
               minimum=min_image_size),
        seed_option(seed, seed_help),
    )
