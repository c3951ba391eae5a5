"""raster/histogram.py: histograms and histogram matching against NumPy."""
import numpy as np

from fdsl_gen.raster.histogram import histogram_cdf, histograms, match_histogram, match_histograms


def test_match_histogram_is_quantile_mapping():
    """Matched values keep their order and take the target's quantiles (to the resolution of
    the source's equal-width bins, fine for a light-tailed source)."""
    generator = np.random.default_rng(0)
    source = generator.normal(3.0, 5.0, size=20000)
    target = generator.gamma(2.0, size=50000)
    edges, cdf = histogram_cdf(*np.histogram(target, 256))
    matched = source.copy()
    match_histogram(matched, edges, cdf, 256)
    assert np.array_equal(np.argsort(matched, kind="stable"), np.argsort(source, kind="stable"))
    levels = np.linspace(0.01, 0.99, 99)
    assert np.abs(np.quantile(matched, levels) - np.quantile(target, levels)).max() < 0.05 * target.std()
    # and a source that is not matched is far from it
    assert np.abs(np.quantile(source, levels) - np.quantile(target, levels)).max() > target.std()


def test_histograms_count_equal_bins_per_row():
    """Per row, the counts of the equal bins over [min, max] (the maximum in the last bin), as
    NumPy finds them with the same float32 arithmetic, and the bin edges."""
    rows = np.random.default_rng(1).normal([[0.0], [5.0], [-3.0]], [[1.0], [0.1], [30.0]], size=(3, 5000))
    rows = rows.astype(np.float32)
    counts, edges = histograms(rows, 64)
    assert counts.shape == (3, 64) and edges.shape == (3, 65)
    for row, row_counts, row_edges in zip(rows, counts, edges):
        lowest, highest = row.min(), row.max()
        assert np.allclose(row_edges, np.linspace(lowest, highest, 65))
        scale = np.float32(64 / (np.float64(highest) - np.float64(lowest)))
        index = np.minimum(((row - lowest) * scale).astype(np.int64), 63)
        assert np.array_equal(row_counts, np.bincount(index, minlength=64))
    # and the targets of stacked histograms are those of each
    targets = histogram_cdf(counts, edges)
    for row_counts, row_edges, row_target_edges, row_cdf in zip(counts, edges, *targets):
        expected_edges, expected_cdf = histogram_cdf(row_counts, row_edges)
        assert np.array_equal(row_target_edges, expected_edges) and np.array_equal(row_cdf, expected_cdf)


def test_match_histograms_matches_each_row():
    generator = np.random.default_rng(2)
    rows = generator.normal(size=(3, 4000)).astype(np.float32)
    edges, cdfs = histogram_cdf(*histograms(generator.gamma([[1.0], [2.0], [5.0]], size=(3, 9000)), 128))
    matched = rows.copy()
    match_histograms(matched, edges, cdfs, 128)
    for row, matched_row, row_edges, row_cdf in zip(rows, matched, edges, cdfs):
        expected = row.copy()
        match_histogram(expected, row_edges, row_cdf, 128)
        assert np.array_equal(matched_row, expected)
