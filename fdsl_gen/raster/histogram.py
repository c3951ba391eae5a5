"""Histograms and histogram matching by piecewise-linear CDF mapping, in O(n) (no sort).

A target distribution is a piecewise-linear CDF: increasing abscissae ``edges`` and the CDF
at each, rising strictly from 0 to 1 (``histogram_cdf``). A source array is matched in two
passes: its own histogram over [min, max] (``bins`` equal bins) gives its CDF at its bin
edges; each edge is sent through the target's inverse CDF, and each value is interpolated
linearly between the images of its bin's edges. The map is increasing, so the order of values
is kept, and it depends on the source only through (x - min) / (max - min): matching is
invariant to a positive affine change of the source.

The source's min and max come from NumPy, whose reductions are vectorised (Numba's float
min/max reductions are not). Bins are numbered in uint16: at most 65535 of them.
"""
import numpy as np
from numba import njit


def histogram_cdf(counts, edges, floor=1e-8):
    """The (edges, cdf) target of a histogram (counts of the bins between consecutive edges),
    or of each row of stacked histograms (counts (rows, bins), edges (rows, bins + 1)).

    Every bin gets ``floor`` times the mean count added, so that the CDF rises strictly and
    can be inverted (empty bins would give flat steps)."""
    counts = np.asarray(counts, np.float64)
    counts = counts + floor * counts.mean(axis=-1, keepdims=True)
    cdf = np.cumsum(counts, axis=-1)
    cdf = np.concatenate([np.zeros_like(cdf[..., :1]), cdf], axis=-1)
    return np.asarray(edges, np.float64), cdf / cdf[..., -1:]


@njit(cache=True, nogil=True)
def _count_bins(index, bins):
    """Counts of bins 0..bins - 1 in ``index``, where bin ``bins`` (the maximum) counts in
    the last bin."""
    counts = np.zeros(bins + 1, np.int32)
    for i in range(index.size):
        counts[index[i]] += 1
    counts[bins - 1] += counts[bins]
    return counts[:bins]


@njit(cache=True, nogil=True)
def _histogram_rows(rows, lowest, scale, bins):
    """Per row: counts of ``bins`` equal bins from ``lowest[r]``, ``scale[r]`` bins per unit.
    The bins are found in a loop of their own, which vectorises, then counted."""
    counts = np.empty((rows.shape[0], bins), np.int32)
    index = np.empty(rows.shape[1], np.uint16)
    for r in range(rows.shape[0]):
        for i in range(rows.shape[1]):
            index[i] = (rows[r, i] - lowest[r]) * scale[r]  # truncated (values >= lowest)
        counts[r] = _count_bins(index, bins)
    return counts


def histograms(rows, bins):
    """Per row of a 2-D array: the counts of ``bins`` equal bins over [min, max] of the row,
    and the bin edges; (rows, bins) and (rows, bins + 1)."""
    lowest = rows.min(axis=1).astype(np.float64)
    width = np.maximum(rows.max(axis=1) - lowest, 1e-300)
    counts = _histogram_rows(rows, lowest.astype(rows.dtype), (bins / width).astype(rows.dtype), bins)
    return counts, lowest[:, None] + width[:, None] * np.arange(bins + 1) / bins


def match_histogram(values, edges, cdf, bins):
    """Map ``values`` (1-D float array, changed in place) to the target (edges, cdf), using a
    source histogram of ``bins`` bins."""
    match_histograms(values[None], edges[None], cdf[None], bins)


def match_histograms(rows, edges, cdfs, bins):
    """``match_histogram`` of each row of ``rows`` (2-D, changed in place) to its own target
    (edges[r], cdfs[r]), in one call (e.g. the channels of an image)."""
    _match_rows(rows, rows.min(axis=1), rows.max(axis=1), edges, cdfs, bins)


@njit(cache=True, nogil=True)
def _match_rows(rows, lowest, highest, edges, cdfs, bins):
    """``match_histograms`` given each row's min and max."""
    index = np.empty(rows.shape[1], np.uint16)  # scratch for each row's bins
    for r in range(rows.shape[0]):
        _match_histogram(rows[r], lowest[r], highest[r], edges[r], cdfs[r], bins, index)


@njit(cache=True, nogil=True)
def _match_histogram(values, lowest, highest, edges, cdf, bins, index):
    """``match_histogram`` given the source's min and max (of its dtype) and a scratch array
    ``index`` (uint16, as long as ``values``)."""
    n = values.size
    if not highest > lowest:  # a constant array: send it to the target's median
        values[:] = np.interp(0.5, cdf, edges)
        return
    scale = values.dtype.type(bins / (np.float64(highest) - np.float64(lowest)))
    to_float = values.dtype.type  # float32 - uint16 would be float64
    # Each value's bin, and in its place its fraction of the way through that bin, in a loop
    # that vectorises: what is left for the (scalar) mapping loop is one multiply-add.
    for i in range(n):
        position = (values[i] - lowest) * scale
        index[i] = position  # truncated (position >= 0)
        values[i] = position - to_float(index[i])
    counts = _count_bins(index, bins)
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
        k = index[i]
        values[i] = mapped[k] + values[i] * rise[k]
