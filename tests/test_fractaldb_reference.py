"""FractalDB compat mode against the reference scripts' outputs: the published search and point renders."""
import glob
import os

import numpy as np
import pytest
from PIL import Image

from fdsl_gen.engines.local import thread_map
from fdsl_gen.families import fractaldb


def test_search_reproduces_published_first_50_classes(golden):
    paths = sorted(glob.glob(os.path.join(golden, "fractaldb", "search_seed1", "*.csv")))
    assert len(paths) == 50
    tables, examined = fractaldb.search_classes(50, 0.2, 1, 100_000, thread_map(2))
    for path, table in zip(paths, tables):
        expected = np.loadtxt(path, delimiter=",", ndmin=2)
        assert table.shape == expected.shape, path
        assert np.array_equal(table, expected), path  # value for value, floats exact
    # the 50th class is the last accepted candidate: nothing after it was counted
    assert examined == fractaldb.search_classes(50, 0.2, 1, 100_000)[1]


def test_search_other_settings_differ_and_are_deterministic():
    a, _ = fractaldb.search_classes(3, 0.05, 5, 20_000, thread_map(2))
    b, _ = fractaldb.search_classes(3, 0.05, 5, 20_000)
    c, _ = fractaldb.search_classes(3, 0.05, 6, 20_000)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_point_mode_matches_reference_renders(golden):
    tables = fractaldb.load_params(os.path.join(golden, "fractaldb", "search_seed1"))
    weights = fractaldb.weight_multipliers(0.4)
    paths = sorted(glob.glob(os.path.join(golden, "fractaldb", "point", "*.png")))
    assert len(paths) == 24
    for path in paths:
        name = os.path.basename(path)  # {class:05d}_{row:02d}_count_0_flip{t}.png
        class_index, row, flip = int(name[:5]), int(name[6:8]), int(name[-5])
        images, diverged = fractaldb.render(tables[class_index], weights[row], 362, 6, 200_000)
        assert not diverged
        assert np.array_equal(images[flip], np.array(Image.open(path))), name


def test_weight_rows_are_the_reference_decimal_literals():
    rows = fractaldb.weight_multipliers(0.4)
    assert rows.shape == (25, 6)
    assert rows[0, 0] == 0.2 and rows[1, 0] == 0.6 and rows[3, 0] == 1.4 and rows[4, 0] == 1.8
    assert (rows[2] == 1.0).all()
    assert rows[5].tolist() == [1.0, 0.2, 1.0, 1.0, 1.0, 1.0]
    assert rows[24].tolist() == [1.0, 1.0, 1.0, 1.0, 1.0, 1.8]
    assert fractaldb.weight_multipliers(0.5)[0, 0] == 0.01  # as in the reference 0.5 file
    assert fractaldb.weight_multipliers(0.0125)[0, 0] == 0.975


def test_diverging_system_is_flagged_and_keeps_its_finite_points():
    table = np.array([[2.0, 0.0, 0.0, 2.0, 1.0, 1.0, 1.0]])  # x' = 2x + 1: overflows to inf
    images, diverged = fractaldb.render(table, np.ones(6), 64, 2, 5000)
    assert diverged
    assert images[0].any()


@pytest.mark.parametrize("rate", [0.2, 0.1, 1.0, 1e-9])
def test_fill_threshold_is_the_reference_float_test(rate):
    count = fractaldb._min_filled_pixels(rate, 512)
    assert count / 512**2 >= rate
    assert count == 1 or (count - 1) / 512**2 < rate
