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
import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, astuple, dataclass
from functools import partial

import numpy as np
from numba import njit

from .. import rng
from ..errors import UsageError
from ..raster.lines import draw_polyline_closed, short_walk_offsets
from ..raster.mt19937 import python_state, skip
from ..raster.perlin import pnoise1_float32
from ..raster.pyrandom import fill_uniform, randint, uniform
from .base import Family, register_family, with_defaults


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


# ---------------------------------------------------------------------------- Numba kernels

@njit(cache=True, nogil=True)
def draw_nucleus(state, image_size, start_pos):
    """Orbit centre: cy first, then cx, each (size + randint(-start_pos, start_pos)) / 2."""
    cy = (image_size + randint(state, -start_pos, start_pos)) / 2
    cx = (image_size + randint(state, -start_pos, start_pos)) / 2
    return cx, cy


@njit(cache=True, nogil=True)
def draw_class_parameters(state, ranges):
    """Draw one class's parameters and its first nucleus, in the reference's order.

    Returns (q, K, eta, w, r0, n1, n2, ox, oy, cx, cy).
    """
    (vertex_min, vertex_max, perlin_min, line_num_min, line_num_max, line_width, radius_min,
     oval_rate, nami_1_min, nami_1_max, nami_2_min, nami_2_max, start_pos, image_size) = ranges
    q = randint(state, vertex_min, vertex_max)
    orbits = randint(state, line_num_min, line_num_max)
    eta = uniform(state, perlin_min, perlin_min + 4.0)
    w = uniform(state, 0.0, line_width)
    r0 = randint(state, radius_min, radius_min + 50)
    n1 = randint(state, nami_1_min, nami_1_max)
    while True:
        n2 = randint(state, nami_2_min, nami_2_max)
        if n1 == 0 or n2 != n1:
            break
    ox = uniform(state, 1.0, oval_rate)
    oy = uniform(state, 1.0, oval_rate)
    cx, cy = draw_nucleus(state, image_size, start_pos)
    return q, orbits, eta, w, r0, n1, n2, ox, oy, cx, cy


@njit(cache=True, nogil=True)
def skip_orbits(state, q, orbits):
    """Consume one instance's orbit draws without computing them."""
    for _ in range(orbits):
        randint(state, 0, 255)   # grey level: rejection sampling, so it must really be drawn
        skip(state, 4 * q)       # 2q uniform() calls of two words each, no rejection


@njit(cache=True, nogil=True)
def render_orbits(state, canvas, q, orbits, eta, w, r0, n1, n2, ox, oy, cx, cy, greys):
    """Draw one instance's K orbits onto ``canvas`` (uint8[size, size]), consuming the stream.

    The grey level of orbit j is recorded in ``greys[j]`` (an int array of at least K entries).

    Float64 arithmetic in the reference's order of operations, so vertices match bit for bit.
    """
    angle = np.pi * 2 / q
    cos_a = np.empty(q)
    sin_a = np.empty(q)
    # The sinusoid terms 0.5*sin(angle*i*n1) and 0.5*sin(angle*i*n2) are the same for every
    # orbit; kept as two arrays because the reference subtracts them one after the other.
    wave_1 = np.empty(q)
    wave_2 = np.empty(q)
    xs = np.empty(q + 1)
    ys = np.empty(q + 1)
    for i in range(q):
        theta = angle * i
        cos_a[i] = np.cos(theta)
        sin_a[i] = np.sin(theta)
        wave_1[i] = 0.5 * np.sin(theta * n1)
        wave_2[i] = 0.5 * np.sin(theta * n2)
        xs[i] = cos_a[i] * r0 * ox + cx
        ys[i] = sin_a[i] * r0 * oy + cy
    draws = np.empty(2 * q)
    noise_values = np.empty(2 * q, dtype=np.float32)
    short_offsets = short_walk_offsets(canvas.shape[1])
    for orbit in range(orbits):
        grey = randint(state, 0, 255)
        greys[orbit] = grey
        # q draws for x, then q for y (uniform(0, 10000) each); one bulk call keeps the
        # generator calls inside a tight loop.
        fill_uniform(state, 0.0, 10000.0, draws)
        # The float32 noise in a loop of its own vectorises wider than mixed with the float64
        # updates.
        for i in range(2 * q):
            noise_values[i] = pnoise1_float32(draws[i])
        for i in range(q):
            noise = np.float64(noise_values[i]) * eta - eta - wave_1[i] - wave_2[i]
            xs[i] -= cos_a[i] * (noise - w)
        for i in range(q):
            noise = np.float64(noise_values[q + i]) * eta - eta - wave_1[i] - wave_2[i]
            ys[i] -= sin_a[i] * (noise - w)
        xs[q] = xs[0]
        ys[q] = ys[0]
        draw_polyline_closed(canvas, xs, ys, grey, short_offsets)


@njit(cache=True, nogil=True)
def run_class_recorded(state, ranges, numof_instances, first, out, nuclei, greys):
    """Advance ``state`` (in place) through one whole class, from its first draw.

    Instances first .. first + len(out) - 1 are rendered into ``out`` (uint8[n, size, size],
    cleared here); all others are fast-forwarded. For rendered slot s, ``nuclei[s]`` receives
    the nucleus (cx, cy) and ``greys[s, :K]`` the orbit grey levels (``greys`` has at least
    line_num_max columns). With an empty ``out`` this is the cheap fast-forward over a class.
    Returns the class parameters as draw_class_parameters does.
    """
    params = draw_class_parameters(state, ranges)
    q, orbits, eta, w, r0, n1, n2, ox, oy, cx, cy = params
    image_size = ranges[13]
    start_pos = ranges[12]
    for k in range(numof_instances):
        slot = k - first
        if 0 <= slot < out.shape[0]:
            out[slot] = 0
            nuclei[slot, 0] = cx
            nuclei[slot, 1] = cy
            render_orbits(state, out[slot], q, orbits, eta, w, r0, n1, n2, ox, oy, cx, cy,
                          greys[slot])
        else:
            skip_orbits(state, q, orbits)
        cx, cy = draw_nucleus(state, image_size, start_pos)
    return params


@njit(cache=True, nogil=True)
def run_class(state, ranges, numof_instances, first, out):
    """run_class_recorded without the record of nuclei and grey levels."""
    nuclei = np.empty((out.shape[0], 2))
    greys = np.empty((out.shape[0], ranges[4]), dtype=np.int64)
    return run_class_recorded(state, ranges, numof_instances, first, out, nuclei, greys)


@njit(cache=True, nogil=True)
def render_seeded_instance(state, canvas, q, orbits, eta, w, r0, n1, n2, ox, oy, image_size,
                           start_pos, greys):
    """One instance from its own stream: the nucleus (cy, then cx), then the K orbits.

    The same draws, in the same order, as one instance of the reference's class loop.
    ``canvas`` must be cleared by the caller. Returns the nucleus (cx, cy).
    """
    cx, cy = draw_nucleus(state, image_size, start_pos)
    render_orbits(state, canvas, q, orbits, eta, w, r0, n1, n2, ox, oy, cx, cy, greys)
    return cx, cy


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

# The drawing ranges: option name (the reference script's argument name) -> VisualAtomRecipe
# field and type.
RANGE_OPTIONS = {
    "vertex_num_min": ("vertex_min", int), "vertex_num_max": ("vertex_max", int),
    "perlin_min": ("perlin_min", float), "line_num_min": ("line_num_min", int),
    "line_num_max": ("line_num_max", int), "line_width": ("line_width", float),
    "radius_min": ("radius_min", int), "oval_rate": ("oval_rate", float),
    "start_pos": ("start_pos", int), "nami_1_min": ("nami_1_min", int),
    "nami_1_max": ("nami_1_max", int), "nami_2_min": ("nami_2_min", int),
    "nami_2_max": ("nami_2_max", int),
}
OPTION_TYPES = {"classes": int, "instances": int, "seed": int, "image_size": int,
                **{option: kind for option, (_, kind) in RANGE_OPTIONS.items()},
                "threads": int, "start_class": int}
# Least accepted value of each option (ranges must also be non-empty: max >= min).
LOWEST = {"classes": 1, "instances": 1, "seed": 0, "image_size": 16, "vertex_num_min": 1,
          "perlin_min": 0, "line_num_min": 1, "line_width": 0, "radius_min": 0, "oval_rate": 1,
          "start_pos": 0, "nami_1_min": 0, "nami_2_min": 0, "threads": 1, "start_class": 0}
RANGES = [("vertex_num_min", "vertex_num_max"), ("line_num_min", "line_num_max"),
          ("nami_1_min", "nami_1_max"), ("nami_2_min", "nami_2_max")]
LARGEST_INT = 2**31 - 1  # anything larger is a typo, and would overflow the kernels' int64 math

DEFAULTS = {"mode": "native", "classes": PUBLISHED.numof_classes,
            "instances": PUBLISHED.numof_instances, "seed": 0, "image_size": PUBLISHED.image_size,
            **{option: getattr(PUBLISHED, field) for option, (field, _) in RANGE_OPTIONS.items()},
            "threads": None, "start_class": None}  # replay only
REPLAY_DEFAULTS = {"threads": PUBLISHED.numof_thread, "start_class": PUBLISHED.start_class}

# A recipe in the reference's vocabulary: argument name -> option name.
REFERENCE_ARGUMENTS = {"numof_classes": "classes", "numof_instances": "instances",
                       "numof_thread": "threads", "start_class": "start_class",
                       "image_size": "image_size", **{option: option for option in RANGE_OPTIONS}}
RECIPE_NOTES = ("family", "description", "name")  # keys any recipe may carry


def _flag(key):
    return "--" + key.replace("_", "-")


def _check_types(config):
    for key, kind in OPTION_TYPES.items():
        value = config[key]
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, kind if kind is int else (int, float)):
            raise UsageError(f"{_flag(key)} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
        if kind is float:
            if not math.isfinite(value):
                raise UsageError(f"{_flag(key)} must be finite, got {value!r}")
            config[key] = float(value)  # 2 and 2.0 are the same configuration
        elif key != "seed" and value > LARGEST_INT:
            raise UsageError(f"{_flag(key)} is too large: {value}")


def reference_recipe(config):
    """The reference script's arguments for a configuration (native mode: a single stream)."""
    return VisualAtomRecipe(numof_thread=config["threads"] or 1, numof_classes=config["classes"],
                            numof_instances=config["instances"],
                            start_class=config["start_class"] or 0,
                            image_size=config["image_size"],
                            **{field: config[option] for option, (field, _) in RANGE_OPTIONS.items()})


def parameter_dict(params):
    """A VisualAtomClass as a class-table entry keyed by the spec's names (q, K, eta, ...)."""
    return dict(zip(PARAMETER_NAMES, astuple(params)))


# Native mode seeding. Keys are cut to 63 bits so that JSON readers with int64 keep them exact;
# a key seeds CPython's random (random.seed(key)), so a sample can be re-drawn with the stdlib.

def class_seed(seed, class_index):
    return rng.derive_key(seed, rng.VISUALATOM_CLASS, class_index) >> 1


def instance_seed(seed, class_index, instance):
    return rng.derive_key(seed, rng.VISUALATOM_INSTANCE, class_index, instance) >> 1


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


def replay_states(recipe, workers=None):
    """uint32[classes rendered, 625]: the stream state at the start of every class.

    Each process stream is fast-forwarded on its own thread (the kernels release the GIL).
    Kept for the last recipe, so that building the class table and then the family costs one
    fast-forward."""
    if recipe not in _replay_states_cache:
        if workers is None:
            workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        threads = max(1, min(workers or 1, recipe.numof_thread))
        with ThreadPoolExecutor(max_workers=threads) as pool:
            per_thread = list(pool.map(partial(replay_thread_class_states, recipe), range(recipe.numof_thread)))
        _replay_states_cache.clear()
        _replay_states_cache[recipe] = np.concatenate(per_thread)
    return _replay_states_cache[recipe]


@register_family
class VisualAtom(Family):
    """Native mode renders instance by instance (group size 1). Replay mode renders blocks of
    consecutive instances: within a class the reference's stream runs through the instances in
    order, so a block starts from the class's start state fast-forwarded over the instances
    before it. Class start states are computed once in the parent and travel with the pickled
    family object (2.5 KB a class), never through the manifest."""

    name = "visualatom"

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
    def configure(cls, options):
        """Validate options (None means default) into the full configuration."""
        config = with_defaults(options, DEFAULTS)
        if config["mode"] not in ("native", "replay"):
            raise UsageError(f"--mode must be 'native' or 'replay', got {config['mode']!r}")
        if config["mode"] == "native":
            given = [_flag(k) for k in REPLAY_DEFAULTS if config[k] is not None]
            if given:
                raise UsageError(f"only --mode replay takes {' and '.join(given)}")
        else:
            config.update({k: v for k, v in REPLAY_DEFAULTS.items() if config[k] is None})
        _check_types(config)
        for key, lowest in LOWEST.items():
            if config[key] is not None and config[key] < lowest:
                raise UsageError(f"{_flag(key)} must be at least {lowest}, got {config[key]}")
        if config["seed"] >= 2**64:
            raise UsageError(f"--seed must be below 2**64, got {config['seed']}")
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
    def build_class_table(cls, config, workers=1, on_progress=None):
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
        states = replay_states(recipe, workers)
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
            self.class_states = replay_states(self.recipe)

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
        instances = self.group_instances(group_in_class)
        images, nuclei, greys = render_instances_recorded(
            self.recipe, self.class_states[class_index], instances[0], len(instances))
        meta["thread"] = self.class_table[class_index]["thread"]
        orbits = meta["K"]
        return [(instance, images[slot], dict(meta, instance=instance, nucleus=nuclei[slot].tolist(),
                                              greys=greys[slot, :orbits].tolist()))
                for slot, instance in enumerate(instances)]
