"""VisualAtom: a pixel-exact replay of the reference script (Takashima et al., CVPR 2023).

Pure functions only: no files, no shards, no processes. See ``shared/specs/visualatom.md``.

The reference runs ``numof_thread`` processes; process t seeds CPython's ``random`` with t + 1
and renders its classes one after another from that single stream. A class's pixels therefore
depend on every draw before it. To render a class in isolation we fast-forward the process
stream over the earlier classes: same words consumed, no pixels drawn.

Stream layout of one class:
    class parameters (q, K, eta, w, r0, n1, n2, ox, oy), first nucleus (cy, cx)
    for each instance: K orbits (grey level, q x-noise draws, q y-noise draws),
                       then the next nucleus (cy, cx); the one after the last instance is unused.
"""
from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

from fdsl_gen.raster.lines import draw_polyline_closed
from fdsl_gen.raster.mt19937 import python_state, skip
from fdsl_gen.raster.perlin import pnoise1
from fdsl_gen.raster.pyrandom import randint, uniform


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
def render_orbits(state, canvas, q, orbits, eta, w, r0, n1, n2, ox, oy, cx, cy):
    """Draw one instance's K orbits onto ``canvas`` (uint8[size, size]), consuming the stream.

    Float64 arithmetic in the reference's order of operations, so vertices match bit for bit.
    """
    angle = np.pi * 2 / q
    cos_a = np.empty(q)
    sin_a = np.empty(q)
    wave_x = np.empty(q)   # 0.5*sin(angle*i*n1), kept apart from the n2 term: the reference
    wave_y = np.empty(q)   # subtracts them one after the other, which fixes the rounding
    xs = np.empty(q + 1)
    ys = np.empty(q + 1)
    for i in range(q):
        theta = angle * i
        cos_a[i] = np.cos(theta)
        sin_a[i] = np.sin(theta)
        wave_x[i] = 0.5 * np.sin(theta * n1)
        wave_y[i] = 0.5 * np.sin(theta * n2)
        xs[i] = cos_a[i] * r0 * ox + cx
        ys[i] = sin_a[i] * r0 * oy + cy
    for _ in range(orbits):
        grey = randint(state, 0, 255)
        # All x noise draws come before all y noise draws; each update uses only its own draw.
        for i in range(q):
            noise = pnoise1(uniform(state, 0.0, 10000.0)) * eta - eta - wave_x[i] - wave_y[i]
            xs[i] -= cos_a[i] * (noise - w)
        for i in range(q):
            noise = pnoise1(uniform(state, 0.0, 10000.0)) * eta - eta - wave_x[i] - wave_y[i]
            ys[i] -= sin_a[i] * (noise - w)
        xs[q] = xs[0]
        ys[q] = ys[0]
        draw_polyline_closed(canvas, xs, ys, grey)


@njit(cache=True, nogil=True)
def run_class(state, ranges, numof_instances, first, out):
    """Advance ``state`` (in place) through one whole class, from its first draw.

    Instances first .. first + len(out) - 1 are rendered into ``out`` (uint8[n, size, size],
    cleared here); all others are fast-forwarded. With an empty ``out`` this is the cheap
    fast-forward over a class. Returns the class parameters as draw_class_parameters does.
    """
    params = draw_class_parameters(state, ranges)
    q, orbits, eta, w, r0, n1, n2, ox, oy, cx, cy = params
    image_size = ranges[13]
    start_pos = ranges[12]
    for k in range(numof_instances):
        slot = k - first
        if 0 <= slot < out.shape[0]:
            out[slot] = 0
            render_orbits(state, out[slot], q, orbits, eta, w, r0, n1, n2, ox, oy, cx, cy)
        else:
            skip_orbits(state, q, orbits)
        cx, cy = draw_nucleus(state, image_size, start_pos)
    return params


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


def render_instances(recipe, class_state, first, count):
    """uint8[count, size, size]: instances first .. first+count-1 of the class at class_state.

    Earlier instances of the class are fast-forwarded, not drawn.
    """
    if not (0 <= first and first + count <= recipe.numof_instances):
        raise ValueError("instance range outside the class")
    out = np.empty((count, recipe.image_size, recipe.image_size), dtype=np.uint8)
    run_class(class_state.copy(), _ranges(recipe), first + count, first, out)
    return out


def render_instance(recipe, class_state, instance):
    """uint8[size, size]: one instance of the class whose stream starts at ``class_state``."""
    return render_instances(recipe, class_state, instance, 1)[0]
