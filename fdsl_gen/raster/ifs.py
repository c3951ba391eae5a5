"""IFS kernels: chaos game, the reference point rescale, point and patch rasterisers.

All arithmetic is float64 without fastmath, so the chaos game matches the reference's
CPython/NumPy arithmetic bit for bit (no FMA contraction).
"""
import numpy as np
from numba import njit

from . import mt19937

# A map is a row (a, b, c, d, e, f): x' = x*a + y*b + e ; y' = x*c + y*d + f.


@njit(cache=True, nogil=True)
def selection_table(probabilities):
    """Running sum of the map probabilities in map order (the reference's cumulative table)."""
    cumulative = np.empty(probabilities.shape[0])
    total = 0.0
    for j in range(probabilities.shape[0]):
        total += probabilities[j]
        cumulative[j] = total
    return cumulative


_LARGEST = np.finfo(np.float64).max


@njit(cache=True, nogil=True, inline="always")
def _pick_map(cumulative, r):
    # First j with r <= cum_j (cum is non-decreasing), counted without branches because the
    # draws are random; a draw above the rounded last entry takes the last map.
    j = 0
    for k in range(cumulative.shape[0] - 1):
        j += r > cumulative[k]
    return j


@njit(cache=True, nogil=True)
def chaos_game(maps, cumulative, draws, xs, ys):
    """Fill xs, ys with len(xs) points; point 0 is (0, 0), point i uses draws[i-1].

    Returns (bounds, finite): bounds = [min x, max x, min y, max y], meaningful when every
    point is finite. Tracking them here is nearly free (the loop waits on its x, y chain)
    and saves the rescale two passes."""
    x = 0.0
    y = 0.0
    xs[0] = x
    ys[0] = y
    x_low = x_high = y_low = y_high = 0.0
    finite = True
    for i in range(1, xs.shape[0]):
        j = _pick_map(cumulative, draws[i - 1])
        x, y = x * maps[j, 0] + y * maps[j, 1] + maps[j, 4], x * maps[j, 2] + y * maps[j, 3] + maps[j, 5]
        xs[i] = x
        ys[i] = y
        x_low = min(x_low, x)
        x_high = max(x_high, x)
        y_low = min(y_low, y)
        y_high = max(y_high, y)
        finite &= (abs(x) <= _LARGEST) & (abs(y) <= _LARGEST)  # False for inf and NaN
    return np.array([x_low, x_high, y_low, y_high]), finite


@njit(cache=True, nogil=True)
def _nan_trim_keep(values, keep):
    """Reference NaN trimming of one axis over the kept points: drop NaNs and the 100 points
    before the first NaN (negative positions wrap around, as numpy.delete does)."""
    kept = np.flatnonzero(keep)
    n = kept.shape[0]
    first = -1
    for k in range(n):
        if np.isnan(values[kept[k]]):
            if first < 0:
                first = k
            keep[kept[k]] = False
    if first >= 0:
        for k in range(first - 100, first):
            keep[kept[k % n]] = False


@njit(cache=True, nogil=True)
def _axis_to_pixels(values, keep, size, pad, pixels):
    """The reference rescale of one axis: shift by the minimum if it is negative, divide by the
    range, scale to size - 2*pad, add pad, truncate. Rounding is monotonic, so the shifted
    range is (max - shift) - (min - shift). Points landing off the canvas are dropped.
    Returns False when the range is not finite and positive."""
    low = np.inf
    high = -np.inf
    for i in range(values.shape[0]):
        if keep[i]:
            low = min(low, values[i])
            high = max(high, values[i])
    shift = low if low < 0.0 else 0.0
    span = (high - shift) - (low - shift)
    if not (np.isfinite(span) and span > 0.0):
        return False
    scale = float(size - 2 * pad)
    offset = float(pad)
    for i in range(values.shape[0]):
        pixel = (values[i] - shift) / span * scale + offset
        inside = keep[i] and pixel >= 0.0 and pixel < size
        keep[i] = inside
        pixels[i] = np.int32(pixel if inside else 0.0)
    return True


@njit(cache=True, nogil=True)
def _rescale_axis(values, low, high, size, pad, pixels):
    """_axis_to_pixels for finite values in [low, high] with low <= 0, with no per-point
    checks (so the loop vectorises). Returns False when the range is zero."""
    shift = low if low < 0.0 else 0.0
    span = (high - shift) - (low - shift)
    if not span > 0.0:
        return False
    scale = float(size - 2 * pad)
    offset = float(pad)
    for i in range(values.shape[0]):
        pixels[i] = np.int32((values[i] - shift) / span * scale + offset)
    return True


@njit(cache=True, nogil=True)
def points_to_pixels(xs, ys, size, pad, bounds, finite):
    """Reference rescale of chaos-game points to pixel columns (from x) and rows (from y);
    the column is -1 for points not drawn.

    ``bounds`` and ``finite`` are what chaos_game returned for these points.
    Returns (columns, rows, diverged). ``diverged`` is True when the system left the finite numbers
    or its points cannot all be placed on the canvas; only the finite, on-canvas points are
    then drawn (the fdsl definition for such systems)."""
    n = xs.shape[0]
    if finite and pad >= 1 and xs[0] == 0.0 and ys[0] == 0.0:
        # The common case: point 0 is the origin, so the minimum is <= 0, the shifted minimum
        # is exactly 0 and every pixel lands in [pad, size - pad]: no per-point checks.
        columns = np.empty(n, dtype=np.int32)
        rows = np.empty(n, dtype=np.int32)
        x_low, x_high, y_low, y_high = bounds
        if _rescale_axis(xs, x_low, x_high, size, pad, columns) and _rescale_axis(ys, y_low, y_high, size, pad, rows):
            return columns, rows, False
    keep = np.ones(n, dtype=np.bool_)
    if not finite:
        _nan_trim_keep(xs, keep)
        _nan_trim_keep(ys, keep)
        for i in range(n):
            keep[i] &= np.isfinite(xs[i]) & np.isfinite(ys[i])
    columns = np.empty(n, dtype=np.int32)
    rows = np.empty(n, dtype=np.int32)
    kept_before = np.count_nonzero(keep)
    placed = kept_before > 0
    placed = placed and _axis_to_pixels(xs, keep, size, pad, columns)
    placed = placed and _axis_to_pixels(ys, keep, size, pad, rows)
    if not placed:
        keep[:] = False
    for i in range(n):
        if not keep[i]:
            columns[i] = -1
    return columns, rows, not (finite and placed and np.count_nonzero(keep) == kept_before)


@njit(cache=True, nogil=True)
def draw_points(canvas, columns, rows, value):
    for i in range(columns.shape[0]):
        if columns[i] >= 0:
            canvas[rows[i], columns[i]] = value


_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, nogil=True, inline="always")
def splitmix64(key, index):
    """Output ``index`` of the SplitMix64 sequence seeded with ``key``: a counter-based hash."""
    z = key + (np.uint64(index) + np.uint64(1)) * _GOLDEN_GAMMA
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def patch_mask(key, index):
    """The 3x3 patch mask of point ``index``: 1..511, bit k (k = 0 top-left, row-major) set
    means 'paint'. Derived from the high 32 bits of SplitMix64 by a multiply-shift."""
    high = splitmix64(key, index) >> np.uint64(32)
    return np.int64((high * np.uint64(511)) >> np.uint64(32)) + 1


@njit(cache=True, nogil=True)
def draw_patches(canvas, columns, rows, value, key):
    """For each point in order, overwrite the 3x3 block whose top-left corner is one pixel
    right of and below the point with its mask: ``value`` where the bit is set, 0 elsewhere.
    Blocks are clipped to the canvas (only possible with pads below 4)."""
    size = canvas.shape[0]
    flat = canvas.reshape(-1)
    for i in range(columns.shape[0]):
        if columns[i] < 0:
            continue
        mask = patch_mask(key, i)
        top = rows[i] + 1
        left = columns[i] + 1
        if top + 2 < size and left + 2 < size:
            # unsigned offsets (no negative-index checks) and value * bit (no branches)
            corner = np.uint64(top * size + left)
            for r in range(3):
                start = corner + np.uint64(r * size)
                bits = mask >> (3 * r)
                flat[start] = (bits & 1) * value
                flat[start + np.uint64(1)] = ((bits >> 1) & 1) * value
                flat[start + np.uint64(2)] = ((bits >> 2) & 1) * value
        else:
            for k in range(9):
                row = top + k // 3
                col = left + k % 3
                if row < size and col < size:
                    canvas[row, col] = ((mask >> k) & 1) * value


# ---------------------------------------------------------------------------------------------
# Category search ("compat"): one numpy-legacy MT19937 stream for the whole search.

MAX_MAPS = 7


@njit(cache=True, nogil=True)
def draw_candidates(state, count, points):
    """Draw the next ``count`` candidates from the search stream, advancing ``state``.

    Per candidate: randint(2, 8) maps, uniform(-1, 1, 6) per map, p_i = |a*d - b*c| normalised,
    then ``points`` selection draws, which are skipped here (twisted over, not tempered) and
    replayed later from the saved state. Returns (tables (count, 7, 7), map counts,
    states (count, 625) positioned at each candidate's selection draws)."""
    tables = np.zeros((count, MAX_MAPS, 7))
    map_counts = np.empty(count, dtype=np.int64)
    states = np.empty((count, state.shape[0]), dtype=np.uint32)
    for k in range(count):
        n = mt19937.legacy_randint(state, 2, MAX_MAPS + 1)
        map_counts[k] = n
        total = 0.0
        for i in range(n):
            for j in range(6):
                tables[k, i, j] = -1.0 + 2.0 * mt19937.next_double(state)
            p = abs(tables[k, i, 0] * tables[k, i, 3] - tables[k, i, 1] * tables[k, i, 2])
            tables[k, i, 6] = p
            total += p
        for i in range(n):
            tables[k, i, 6] /= total
        states[k] = state
        mt19937.skip(state, 2 * points)
    return tables, map_counts, states


@njit(cache=True, nogil=True)
def _hits_enough(columns, rows, size, enough):
    """Do the pixels hit at least ``enough`` distinct canvas pixels? Stops as soon as the
    answer is known either way."""
    hit = np.zeros((size, size), dtype=np.bool_)
    count = 0
    n = columns.shape[0]
    for i in range(n):
        if not hit[rows[i], columns[i]]:
            hit[rows[i], columns[i]] = True
            count += 1
            if count >= enough:
                return True
        elif count + (n - 1 - i) < enough:
            return False
    return False


@njit(cache=True, nogil=True)
def filled_enough(tables, map_counts, states, points, size, pad, enough):
    """For each candidate: does its point render fill at least ``enough`` pixels?

    Candidates whose points leave the finite numbers are rejected (the reference gives
    platform-dependent pixels for them)."""
    accepted = np.zeros(map_counts.shape[0], dtype=np.bool_)
    draws = np.empty(points)
    xs = np.empty(points)
    ys = np.empty(points)
    for k in range(map_counts.shape[0]):
        n = map_counts[k]
        cumulative = selection_table(tables[k, :n, 6])
        mt19937.fill_doubles(states[k].copy(), draws)
        bounds, finite = chaos_game(tables[k, :n, :6], cumulative, draws, xs, ys)
        if finite:
            columns, rows, diverged = points_to_pixels(xs, ys, size, pad, bounds, finite)
            accepted[k] = not diverged and _hits_enough(columns, rows, size, enough)
    return accepted
