"""Histograms and histogram matching by piecewise-linear CDF mapping, in O(n) (no sort).

A target distribution is a piecewise-linear CDF: increasing abscissae ``edges`` and the CDF
at each, rising strictly from 0 to 1 (``histogram_cdf``). A source array is matched in two
passes: its own histogram over [min, max] (``bins`` equal bins) gives its CDF at its bin
edges; each edge is sent through the target's inverse CDF, and each value is interpolated
linearly between the images of its bin's edges. The map is increasing, so the order of values
is kept, and it depends on the source only through (x - min) / (max - min): matching is
invariant to a positive affine change of the source.
"""
import numpy as np
from numba import njit


def histogram_cdf(counts, edges, floor=1e-8):
    """The (edges, cdf) target of a histogram (counts of the bins between consecutive edges).

    Every bin gets ``floor`` times the mean count added, so that the CDF rises strictly and
    can be inverted (empty bins would give flat steps)."""
    counts = np.asarray(counts, np.float64)
    counts = counts + floor * counts.mean()
    cdf = np.concatenate([[0.0], np.cumsum(counts)])
    return np.asarray(edges, np.float64), cdf / cdf[-1]


@njit(cache=True, nogil=True, fastmath=True)
def value_range(values):
    """(min, max) of a 1-D array without NaNs (fastmath lets the loop vectorise)."""
    lowest = values[0]
    highest = values[0]
    for i in range(values.size):
        lowest = min(lowest, values[i])
        highest = max(highest, values[i])
    return lowest, highest


@njit(cache=True, nogil=True)
def _bin_counts(values, lowest, scale, bins):
    """Counts of ``bins`` equal bins from ``lowest``, ``scale`` bins per unit; the maximum
    falls in the last bin."""
    counts = np.zeros(bins + 1, np.int64)
    for i in range(values.size):
        counts[int((values[i] - lowest) * scale)] += 1  # int() truncates (values >= 0)
    counts[bins - 1] += counts[bins]
    return counts[:bins]


@njit(cache=True, nogil=True)
def histogram(values, bins):
    """Counts of ``bins`` equal bins over [min, max] of a 1-D array, and the bin edges."""
    lowest, highest = value_range(values)
    lowest = np.float64(lowest)
    width = max(np.float64(highest) - lowest, 1e-300)
    counts = _bin_counts(values, values.dtype.type(lowest), values.dtype.type(bins / width), bins)
    return counts, lowest + width * np.arange(bins + 1) / bins


@njit(cache=True, nogil=True)
def match_histogram(values, edges, cdf, bins):
    """Map ``values`` (1-D float array, changed in place) to the target (edges, cdf), using a
    source histogram of ``bins`` bins."""
    n = values.size
    lowest, highest = value_range(values)
    if not highest > lowest:  # a constant array: send it to the target's median
        values[:] = np.interp(0.5, cdf, edges)
        return
    scale = values.dtype.type(bins / (np.float64(highest) - np.float64(lowest)))
    counts = _bin_counts(values, lowest, scale, bins)
    # The source CDF at each of its bin edges, through the target's inverse CDF. Both CDFs
    # rise, so one forward scan over the target's segments serves every edge.
    mapped = np.empty(bins + 2, values.dtype)
    below = 0
    segment = 0
    last_segment = cdf.size - 2
    for e in range(bins + 1):
        p = below / n
        while segment < last_segment and cdf[segment + 1] < p:
            segment += 1
        t = (p - cdf[segment]) / (cdf[segment + 1] - cdf[segment])
        t = min(max(t, 0.0), 1.0)
        mapped[e] = edges[segment] + t * (edges[segment + 1] - edges[segment])
        if e < bins:
            below += counts[e]
    mapped[bins + 1] = mapped[bins]  # the maximum lands on edge ``bins`` with fraction 0
    rise = mapped[1:] - mapped[:-1]
    for i in range(n):
        position = (values[i] - lowest) * scale
        k = int(position)
        values[i] = mapped[k] + (position - k) * rise[k]
