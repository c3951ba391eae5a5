"""VisualAtom's orbit kernels: the draws of a class and of an instance, and the rendering of
an instance's orbits, in the reference script's draw order and float64 arithmetic.

A stream is CPython ``random``'s MT19937 state (``pyrandom.py``). ``ranges`` is the tuple of
drawing ranges the family builds from its configuration (``families/visualatom._ranges``):
(vertex_min, vertex_max, perlin_min, line_num_min, line_num_max, line_width, radius_min,
oval_rate, nami_1_min, nami_1_max, nami_2_min, nami_2_max, start_pos, image_size).
"""
import numpy as np
from numba import njit

from fdsl_gen.raster.lines import draw_polyline_closed, short_walk_offsets
from fdsl_gen.raster.mt19937 import skip
from fdsl_gen.raster.perlin import pnoise1_float32
from fdsl_gen.raster.pyrandom import fill_uniform, randint, uniform


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
