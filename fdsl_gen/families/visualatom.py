"""VisualAtom: sinusoidal-wave orbits (Takashima et al., CVPR 2023), native and replayed.

Two modes share the same draw and render kernels (see ``shared/specs/visualatom.md``):

- native: every class has its own random stream, seeded from (dataset seed, class), and every
  instance its own, seeded from (dataset seed, class, instance); any sample can be rendered
  alone, so the dataset does not depend on how work is split.
- replay: the reference script's own streams, pixel for pixel (below).

The kernels and replay helpers are pure functions; the ``VisualAtom`` family class at the end
adapts them to the generator (configuration, class table, render groups).

The reference runs ``numof_thread`` processes; process t seeds CPython's ``random`` with t + 1
and renders its classes one after another from that single stream. A class's pixels therefore
depend on every draw before it. To render a class in isolation we fast-forward the process
stream over the earlier classes: same words consumed, no pixels drawn.

Stream layout of one class:
    class parameters (q, K, eta, w, r0, n1, n2, ox, oy), first nucleus (cy, cx)
    for each instance: K orbits (grey level, q x-noise draws, q y-noise draws),
                       then the next nucleus (cy, cx); the one after the last instance is unused.
"""
from dataclasses import asdict, astuple, dataclass
from functools import partial

import numpy as np

from .. import rng
from ..errors import UsageError
from ..raster.mt19937 import python_state
from ..raster.orbits import draw_class_parameters, render_seeded_instance, run_class, run_class_recorded
from .base import Family, Option, Paper, register_family


@dataclass(frozen=True)
class VisualAtomRecipe:
    """Arguments of the reference script; defaults are the published launch-script values.

    (The script's own argparse defaults differ: perlin_min 2, line_width 0.01, radius_min 0.)
    """
    vertex_min: int = 200
    vertex_max: int = 1000
    perlin_min: float = 0.0
    line_num_min: int = 1
    line_num_max: int = 200
    line_width: float = 0.1
    radius_min: int = 10
    oval_rate: float = 2.0
    start_pos: int = 512
    nami_1_min: int = 0
    nami_1_max: int = 20
    nami_2_min: int = 0
    nami_2_max: int = 20
    image_size: int = 512
    numof_thread: int = 20
    numof_classes: int = 1000
    numof_instances: int = 1000
    start_class: int = 0

    def __post_init__(self):
        if self.nami_2_min == self.nami_2_max and self.nami_2_min != 0 and (
                self.nami_1_min <= self.nami_2_min <= self.nami_1_max):
            # The reference redraws n2 until it differs from n1: it would never terminate.
            raise ValueError("nami_2 range must allow a value different from nami_1")

    @property
    def classes_per_thread(self):
        return self.numof_classes // self.numof_thread

    def as_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class VisualAtomClass:
    """Per-class parameters, named as in the paper where it has a name."""
    vertices: int        # q, vertices per orbit
    orbits: int          # K
    noise_scale: float   # eta, perlin-noise coefficient
    orbit_offset: float  # w, outward offset per orbit
    radius: int          # r0, start radius in pixels
    wave_1: int          # n1, frequency of the first sinusoid
    wave_2: int          # n2, frequency of the second sinusoid
    oval_x: float        # ox
    oval_y: float        # oy


def _ranges(recipe):
    """The recipe's drawing ranges as a typed tuple for the Numba kernels (one signature)."""
    return (int(recipe.vertex_min), int(recipe.vertex_max), float(recipe.perlin_min),
            int(recipe.line_num_min), int(recipe.line_num_max), float(recipe.line_width),
            int(recipe.radius_min), float(recipe.oval_rate), int(recipe.nami_1_min),
            int(recipe.nami_1_max), int(recipe.nami_2_min), int(recipe.nami_2_max),
            int(recipe.start_pos), int(recipe.image_size))


# ---------------------------------------------------------------------------- Python API

def thread_class_ids(recipe, thread):
    """Class ids rendered by process ``thread``, in stream order (leftovers never rendered)."""
    per_thread = recipe.classes_per_thread
    first = thread * per_thread + recipe.start_class
    return range(first, first + per_thread)


def thread_of_class(recipe, class_id):
    """(thread, position in that thread's stream) of a class id."""
    offset = class_id - recipe.start_class
    per_thread = recipe.classes_per_thread
    if not (0 <= offset < per_thread * recipe.numof_thread):
        raise ValueError(f"class {class_id} is not rendered by this recipe")
    return divmod(offset, per_thread)


def thread_initial_state(thread):
    """State of the process's stream right after ``random.seed(thread + 1)``."""
    return python_state(thread + 1)


def _empty_batch(recipe):
    return np.empty((0, recipe.image_size, recipe.image_size), dtype=np.uint8)


def fast_forward_class(recipe, state):
    """Advance ``state`` in place past one whole class (all instances); return its parameters."""
    return _as_class(run_class(state, _ranges(recipe), recipe.numof_instances, 0,
                               _empty_batch(recipe)))


def replay_thread_class_states(recipe, thread):
    """uint32[classes_per_thread, 625]: the stream state at the start of each class of a thread."""
    states = np.empty((recipe.classes_per_thread, 625), dtype=np.uint32)
    state = thread_initial_state(thread)
    ranges = _ranges(recipe)
    empty = _empty_batch(recipe)
    for position in range(recipe.classes_per_thread):
        states[position] = state
        if position + 1 < recipe.classes_per_thread:  # the last class need not be skipped
            run_class(state, ranges, recipe.numof_instances, 0, empty)
    return states


def replay_class_states(recipe):
    """uint32[numof_thread, classes_per_thread, 625]; [t, j] is class thread_class_ids(t)[j]."""
    return np.stack([replay_thread_class_states(recipe, t) for t in range(recipe.numof_thread)])


def _as_class(params):
    q, orbits, eta, w, r0, n1, n2, ox, oy, _cx, _cy = params
    return VisualAtomClass(int(q), int(orbits), float(eta), float(w), int(r0), int(n1), int(n2),
                           float(ox), float(oy))


def class_parameters(recipe, class_state):
    """The parameters of the class whose stream starts at ``class_state`` (not modified)."""
    return _as_class(draw_class_parameters(class_state.copy(), _ranges(recipe)))


def render_instances_recorded(recipe, class_state, first, count):
    """Instances first .. first+count-1 of the class at class_state, with what they drew.

    Returns (images uint8[count, size, size], nuclei float64[count, 2] as (cx, cy),
    greys int64[count, line_num_max]: the first K of each row are the orbit grey levels).
    Earlier instances of the class are fast-forwarded, not drawn; class_state is not modified.
    """
    if not (0 <= first and first + count <= recipe.numof_instances):
        raise ValueError("instance range outside the class")
    out = np.empty((count, recipe.image_size, recipe.image_size), dtype=np.uint8)
    nuclei = np.empty((count, 2))
    greys = np.empty((count, recipe.line_num_max), dtype=np.int64)
    run_class_recorded(class_state.copy(), _ranges(recipe), first + count, first, out, nuclei,
                       greys)
    return out, nuclei, greys


def render_instances(recipe, class_state, first, count):
    """uint8[count, size, size]: instances first .. first+count-1 of the class at class_state."""
    return render_instances_recorded(recipe, class_state, first, count)[0]


def render_instance(recipe, class_state, instance):
    """uint8[size, size]: one instance of the class whose stream starts at ``class_state``."""
    return render_instances(recipe, class_state, instance, 1)[0]


# ---------------------------------------------------------------------------- the family

PUBLISHED = VisualAtomRecipe()  # the published launch script's arguments
PARAMETER_NAMES = ("q", "K", "eta", "w", "r0", "n1", "n2", "ox", "oy")  # as in the spec
REPLAY_GROUP_SIZE = 100  # consecutive instances per replay render group (see VisualAtom)
LARGEST_INT = 2**31 - 1  # anything larger is a typo, and would overflow the kernels' int64 math
STREAMS = {"class": 4, "instance": 5}  # native mode: one class's parameters; one instance

# The drawing ranges: option name (the reference script's argument name) -> VisualAtomRecipe
# field.
RANGE_FIELDS = {
    "vertex_num_min": "vertex_min", "vertex_num_max": "vertex_max", "perlin_min": "perlin_min",
    "line_num_min": "line_num_min", "line_num_max": "line_num_max", "line_width": "line_width",
    "radius_min": "radius_min", "oval_rate": "oval_rate", "start_pos": "start_pos",
    "nami_1_min": "nami_1_min", "nami_1_max": "nami_1_max", "nami_2_min": "nami_2_min",
    "nami_2_max": "nami_2_max",
}
RANGES = [("vertex_num_min", "vertex_num_max"), ("line_num_min", "line_num_max"),
          ("nami_1_min", "nami_1_max"), ("nami_2_min", "nami_2_max")]
REPLAY_ONLY = {"threads": PUBLISHED.numof_thread, "start_class": PUBLISHED.start_class}  # replay defaults


def _count(name, default, help, minimum=0):
    return Option(name, int, default, help, minimum=minimum, maximum=LARGEST_INT)


OPTIONS = (
    Option("mode", str, "native", "native: every class and instance seeded from --seed alone. replay: the "
           "reference script's random streams, pixel for pixel.", choices=("native", "replay"),
           default_text="native; replay for a recipe of reference argument names"),
    _count("classes", PUBLISHED.numof_classes, "Number of classes (numof_classes).", minimum=1),
    _count("instances", PUBLISHED.numof_instances, "Images per class (numof_instances).", minimum=1),
    Option("seed", int, 0, "Dataset seed: class and instance streams in native mode, and the sample order.",
           minimum=0, maximum=2**64 - 1),
    _count("image_size", PUBLISHED.image_size, "Image side in pixels, at least 16.", minimum=16),
    _count("vertex_num_min", PUBLISHED.vertex_min, "Vertices per orbit q drawn from [MIN, MAX].", minimum=1),
    _count("vertex_num_max", PUBLISHED.vertex_max, ""),
    Option("perlin_min", float, PUBLISHED.perlin_min, "Noise coefficient eta drawn from [P, P + 4].", minimum=0),
    _count("line_num_min", PUBLISHED.line_num_min, "Orbits per image K drawn from [MIN, MAX].", minimum=1),
    _count("line_num_max", PUBLISHED.line_num_max, ""),
    Option("line_width", float, PUBLISHED.line_width, "Outward step per orbit w drawn from [0, W]; lines are "
           "always 1 px.", minimum=0),
    _count("radius_min", PUBLISHED.radius_min, "Start radius r0 (px) drawn from [R, R + 50]."),
    Option("oval_rate", float, PUBLISHED.oval_rate, "Oval stretches ox, oy drawn from [1, O].", minimum=1),
    _count("start_pos", PUBLISHED.start_pos, "Nucleus on each axis: (size + randint(-S, S)) / 2."),
    _count("nami_1_min", PUBLISHED.nami_1_min, "First wave frequency n1 drawn from [MIN, MAX]."),
    _count("nami_1_max", PUBLISHED.nami_1_max, ""),
    _count("nami_2_min", PUBLISHED.nami_2_min, "Second wave frequency n2 drawn from [MIN, MAX], redrawn while "
           "equal to a nonzero n1."),
    _count("nami_2_max", PUBLISHED.nami_2_max, ""),
    Option("threads", int, None, "Replay: processes of the reference run (numof_thread); leftover classes are "
           "not rendered, as there.", default_text=str(PUBLISHED.numof_thread), minimum=1, maximum=LARGEST_INT),
    Option("start_class", int, None, "Replay: number of the first class (start_class).",
           default_text=str(PUBLISHED.start_class), minimum=0, maximum=LARGEST_INT),
)

# A recipe in the reference's vocabulary: argument name -> option name.
REFERENCE_ARGUMENTS = {"numof_classes": "classes", "numof_instances": "instances",
                       "numof_thread": "threads", "start_class": "start_class",
                       "image_size": "image_size", **{option: option for option in RANGE_FIELDS}}
RECIPE_NOTES = ("family", "description", "name")  # keys any recipe may carry

RECIPES = {
    "visualatom-1k": {
        "family": "visualatom",
        "description": "VisualAtom-1k as published (Takashima et al., CVPR 2023): the reference script's launch "
                       "arguments, 20 processes, 1,000 classes x 1,000 instances of 512 px. Keys are the script's "
                       "argument names, so this recipe selects replay mode: pixel-identical to the published run.",
        "name": "visualatom-1k",
        "numof_thread": 20, "numof_classes": 1000, "numof_instances": 1000, "start_class": 0, "image_size": 512,
        "vertex_num_min": 200, "vertex_num_max": 1000, "perlin_min": 0, "line_width": 0.1, "radius_min": 10,
        "line_num_min": 1, "line_num_max": 200, "oval_rate": 2, "start_pos": 512,
        "nami_1_min": 0, "nami_1_max": 20, "nami_2_min": 0, "nami_2_max": 20,
    },
}


def _flag(key):
    return "--" + key.replace("_", "-")


def reference_recipe(config):
    """The reference script's arguments for a configuration (native mode: a single stream)."""
    return VisualAtomRecipe(numof_thread=config["threads"] or 1, numof_classes=config["classes"],
                            numof_instances=config["instances"],
                            start_class=config["start_class"] or 0,
                            image_size=config["image_size"],
                            **{field: config[option] for option, field in RANGE_FIELDS.items()})


def parameter_dict(params):
    """A VisualAtomClass as a class-table entry keyed by the spec's names (q, K, eta, ...)."""
    return dict(zip(PARAMETER_NAMES, astuple(params)))


# Native mode seeding. Keys are cut to 63 bits so that JSON readers with int64 keep them exact;
# a key seeds CPython's random (random.seed(key)), so a sample can be re-drawn with the stdlib.

def class_seed(seed, class_index):
    return rng.derive_key(seed, STREAMS["class"], class_index) >> 1


def instance_seed(seed, class_index, instance):
    return rng.derive_key(seed, STREAMS["instance"], class_index, instance) >> 1


def native_class_parameters(recipe, seed_of_class):
    """Class parameters drawn, in the reference's order, from the class's own stream.

    The stream is used exactly as a reference class header; its trailing nucleus is unused
    (every native instance draws its own)."""
    return _as_class(draw_class_parameters(python_state(seed_of_class), _ranges(recipe)))


def render_native_instance(class_params, seed_of_instance, image_size, start_pos):
    """One native instance from its seed: (image, nucleus (cx, cy), orbit grey levels)."""
    canvas = np.zeros((image_size, image_size), dtype=np.uint8)
    greys = np.empty(class_params[1], dtype=np.int64)
    nucleus = render_seeded_instance(python_state(seed_of_instance), canvas, *class_params,
                                     image_size, start_pos, greys)
    return canvas, nucleus, greys


def render_sample(meta):
    """Re-render a native sample from its .json metadata alone."""
    if meta["mode"] != "native":
        raise ValueError("a replay sample depends on its process stream: render it from the recipe")
    class_params = tuple(meta[name] for name in PARAMETER_NAMES)
    return render_native_instance(class_params, meta["instance_seed"], meta["image_size"],
                                  meta["start_pos"])[0]


_replay_states_cache = {}  # recipe -> class start states; one entry (see replay_states)


def replay_states(recipe, parallel_map=map):
    """uint32[classes rendered, 625]: the stream state at the start of every class.

    The process streams are fast-forwarded through ``parallel_map`` (the engine's threads: the
    kernels release the GIL). Kept for the last recipe, so that building the class table and
    then preparing the family costs one fast-forward."""
    if recipe not in _replay_states_cache:
        per_thread = list(parallel_map(partial(replay_thread_class_states, recipe), range(recipe.numof_thread)))
        _replay_states_cache.clear()
        _replay_states_cache[recipe] = np.concatenate(per_thread)
    return _replay_states_cache[recipe]


@register_family
class VisualAtom(Family):
    """Native mode renders instance by instance (group size 1). Replay mode renders blocks of
    consecutive instances: within a class the reference's stream runs through the instances in
    order, so a block starts from the class's start state fast-forwarded over the instances
    before it. Class start states are computed once in the parent (``prepare``) and travel
    with the pickled family object (2.5 KB a class), never through the manifest."""

    name = "visualatom"
    help = """VisualAtom: orbits of sinusoidal waves (Takashima et al., CVPR 2023).

    A --recipe whose keys are the reference script's argument names (numof_classes,
    numof_thread, vertex_num_min, ...) selects replay mode; missing keys take the published
    launch-script values.

    \b
    Examples:
      fdsl-gen visualatom --classes 1000 --instances 1000 --seed 0 --out shards/va-1k
      fdsl-gen visualatom --recipe visualatom-1k --out shards/visualatom-1k"""
    options = OPTIONS
    recipes = RECIPES
    streams = STREAMS
    paper = Paper("takashima2023visual", "Visual Atoms: Pre-training Vision Transformers with Sinusoidal Waves",
                  ("Sora Takashima", "Ryo Hayamizu", "Nakamasa Inoue", "Hirokatsu Kataoka", "Rio Yokota"),
                  "IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)", 2023,
                  "https://arxiv.org/abs/2303.01112")
    preview_keys = ("q", "K", "eta", "n1", "n2")

    @classmethod
    def recipe_options(cls, recipe):
        """A recipe of the reference script's argument names selects replay mode.

        It is one if all its keys are reference argument names, or if it has a numof_* key
        (names that are no option of ours); otherwise its keys are option names."""
        keys = set(recipe) - set(RECIPE_NOTES)
        is_reference = keys and (keys <= set(REFERENCE_ARGUMENTS) or any(k.startswith("numof_") for k in keys))
        if not is_reference:
            return recipe
        unknown = sorted(keys - set(REFERENCE_ARGUMENTS))
        if unknown:
            raise UsageError(f"--recipe has an unknown reference argument {unknown[0]!r} "
                             f"(known: {', '.join(REFERENCE_ARGUMENTS)})")
        options = {key: recipe[key] for key in RECIPE_NOTES if key in recipe}
        options.update({REFERENCE_ARGUMENTS[key]: recipe[key] for key in keys}, mode="replay")
        return options

    @classmethod
    def finish_config(cls, config):
        if config["mode"] == "native":
            given = [_flag(k) for k in REPLAY_ONLY if config[k] is not None]
            if given:
                raise UsageError(f"only --mode replay takes {' and '.join(given)}")
        else:
            config.update({k: v for k, v in REPLAY_ONLY.items() if config[k] is None})
        for low, high in RANGES:
            if config[low] > config[high]:
                raise UsageError(f"empty range: {_flag(low)} {config[low]} is above {_flag(high)} {config[high]}")
        if config["mode"] == "replay" and config["classes"] < config["threads"]:
            raise UsageError(f"--classes (numof_classes) {config['classes']} is below --threads (numof_thread) "
                             f"{config['threads']}: the reference would render no class")
        try:
            reference_recipe(config)
        except ValueError:  # the one case VisualAtomRecipe refuses: a redraw that never ends
            raise UsageError(f"--nami-2-min = --nami-2-max = {config['nami_2_max']} is also a possible n1: the "
                             "redraw of n2 until it differs from n1 would never end") from None
        return config

    @classmethod
    def with_instances(cls, config, instances):
        if config["mode"] == "replay":  # the next class's stream starts where this one's instances end
            raise UsageError("a replayed VisualAtom set has exactly the reference run's instances; native mode "
                             "draws any number")
        return super().with_instances(config, instances)

    @classmethod
    def build_class_table(cls, config, parallel_map=map, on_progress=None):
        """Per-class parameters (q, K, eta, w, r0, n1, n2, ox, oy) and where they came from."""
        recipe = reference_recipe(config)
        if config["mode"] == "native":
            table = []
            for class_index in range(config["classes"]):
                seed_of_class = class_seed(config["seed"], class_index)
                params = native_class_parameters(recipe, seed_of_class)
                table.append(dict(parameter_dict(params), class_seed=seed_of_class))
            source = {"source": "native",
                      "seeding": "class c: random.seed(class_seed), drawn as the reference's class "
                                 "header; instance: random.seed(instance_seed in its .json), nucleus then orbits"}
            return table, source
        states = replay_states(recipe, parallel_map)
        table = [dict(parameter_dict(class_parameters(recipe, state)), class_id=recipe.start_class + index,
                      thread=index // recipe.classes_per_thread)
                 for index, state in enumerate(states)]
        arguments = {argument: config[option] for argument, option in REFERENCE_ARGUMENTS.items()}
        source = {"source": "replay", "reference_arguments": arguments,
                  "classes_not_rendered": recipe.numof_classes % recipe.numof_thread}
        return table, source

    def __init__(self, config, class_table):
        super().__init__(config, class_table)
        self.recipe = reference_recipe(config)
        self.class_params = [tuple(entry[name] for name in PARAMETER_NAMES) for entry in class_table]
        self.class_states = None
        if config["mode"] == "replay":
            self.group_size = min(REPLAY_GROUP_SIZE, config["instances"])

    def prepare(self, parallel_map=map):
        if self.config["mode"] == "replay":
            self.class_states = replay_states(self.recipe, parallel_map)

    def _class_meta(self, class_index):
        entry = self.class_table[class_index]
        meta = {"mode": self.config["mode"], "class": class_index,
                "class_id": entry.get("class_id", class_index), "image_size": self.config["image_size"]}
        meta.update((name, entry[name]) for name in PARAMETER_NAMES)
        return meta

    def render_group(self, class_index, group_in_class):
        meta = self._class_meta(class_index)
        if self.config["mode"] == "native":
            instance = group_in_class  # group size 1
            seed_of_instance = instance_seed(self.config["seed"], class_index, instance)
            image, nucleus, greys = render_native_instance(
                self.class_params[class_index], seed_of_instance, self.config["image_size"], self.config["start_pos"])
            meta.update(instance=instance, instance_seed=seed_of_instance, start_pos=self.config["start_pos"],
                        nucleus=list(nucleus), greys=greys.tolist())
            return [(instance, image, meta)]
        if self.class_states is None:
            self.prepare()
        instances = self.group_instances(group_in_class)
        images, nuclei, greys = render_instances_recorded(
            self.recipe, self.class_states[class_index], instances[0], len(instances))
        meta["thread"] = self.class_table[class_index]["thread"]
        orbits = meta["K"]
        return [(instance, images[slot], dict(meta, instance=instance, nucleus=nuclei[slot].tolist(),
                                              greys=greys[slot, :orbits].tolist()))
                for slot, instance in enumerate(instances)]

    render_sample = staticmethod(render_sample)
