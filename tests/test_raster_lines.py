"""draw_line / draw_polyline_closed give exactly Pillow's ImageDraw.line(width=1) pixels."""
import numpy as np
import pytest
from PIL import Image, ImageDraw

from fdsl_gen.raster.lines import draw_line, draw_polyline_closed, short_walk_offsets


def _pillow_line(width, height, segment, value=200):
    image = Image.new("L", (width, height), 0)
    ImageDraw.Draw(image).line(segment, fill=value, width=1)
    return np.array(image)


def _ours(width, height, segment, value=200):
    canvas = np.zeros((height, width), dtype=np.uint8)
    draw_line(canvas, *segment, value)
    return canvas


def _assert_same(width, height, segment):
    expected = _pillow_line(width, height, segment)
    actual = _ours(width, height, segment)
    assert np.array_equal(actual, expected), (width, height, segment,
                                              np.argwhere(actual != expected)[:5])


@pytest.mark.parametrize("segment", [
    (3, 3, 3, 3),            # single point
    (2, 3, 9, 3), (9, 3, 2, 3),        # horizontal, both directions
    (3, 2, 3, 9), (3, 9, 3, 2),        # vertical
    (2, 2, 8, 8), (8, 2, 2, 8),        # diagonals
    (2, 2, 4, 3), (4, 3, 2, 2),        # tie: reverse differs from forward
    (2, 2, 3, 4), (3, 4, 2, 2),
    (0, 0, 7, 2), (0, 0, 2, 7), (7, 2, 0, 0),
    (-0.9, 3.0, 5.0, 3.9),             # truncation toward zero, not floor
    (-1.5, -1.5, 12.7, 9.2),
    (-1e6, 5.0, 1e6, 5.0), (5.0, -1e6, 5.0, 1e6),
    (-1e6, -1e6, 1e6, 1e6), (1e6, -1e6, -1e6, 1e6),
    (-1e6, 3.0, 1e6, 7.0), (4.0, 1e6, 6.0, -1e6),
    (1e6, 1e6, 1e6 + 3, 1e6 - 2),      # far away, nothing drawn
    (-5, -5, -5, -5), (20, 3, 20, 3),  # single points off canvas
])
def test_named_cases(segment):
    _assert_same(16, 12, segment)


def test_direction_matters_on_ties():
    # Not an implementation accident: Pillow itself rounds ties in the walking direction.
    forward = _pillow_line(8, 8, (2, 2, 4, 3))
    backward = _pillow_line(8, 8, (4, 3, 2, 2))
    assert not np.array_equal(forward, backward)
    assert np.array_equal(_ours(8, 8, (2, 2, 4, 3)), forward)
    assert np.array_equal(_ours(8, 8, (4, 3, 2, 2)), backward)


def test_random_segments_small_canvases():
    rng = np.random.default_rng(0)
    for trial in range(3000):
        width, height = (int(v) for v in rng.integers(1, 24, 2))
        if trial % 3 == 0:
            segment = tuple(rng.uniform(-5.0, 30.0, 4).tolist())
        elif trial % 3 == 1:
            segment = tuple(float(v) for v in rng.integers(-10, 35, 4))
        else:
            segment = tuple(rng.uniform(-1e6, 1e6, 4).tolist())
        _assert_same(width, height, segment)


def test_far_endpoints_crossing_the_canvas():
    # Both endpoints far off the canvas but the line through it: the clipping must start the
    # walk at exactly Pillow's pixel. Some directions are small integer vectors to hit ties.
    rng = np.random.default_rng(1)
    drawn = 0
    for trial in range(3000):
        width, height = (int(v) for v in rng.integers(1, 40, 2))
        centre = rng.uniform(-2.0, [width + 2.0, height + 2.0])
        angle = rng.uniform(0.0, 2.0 * np.pi)
        direction = np.array([np.cos(angle), np.sin(angle)])
        if trial % 3 == 0:
            direction = np.round(direction * rng.integers(1, 5))
        back, ahead = 10.0 ** rng.uniform(0.0, 6.0, 2)
        start, end = centre - back * direction, centre + ahead * direction
        segment = (float(start[0]), float(start[1]), float(end[0]), float(end[1]))
        if trial % 2:
            segment = tuple(float(np.trunc(v)) for v in segment)
        _assert_same(width, height, segment)
        drawn += _ours(width, height, segment).any()
    assert drawn > 2000  # the test really exercises visible lines


def test_polyline_closed_matches_sequential_pillow_calls():
    rng = np.random.default_rng(2)
    for _ in range(200):
        size = int(rng.integers(8, 48))
        count = int(rng.integers(1, 30))
        xs = np.append(rng.uniform(-10, size + 10, count), 0.0)
        ys = np.append(rng.uniform(-10, size + 10, count), 0.0)
        xs[-1], ys[-1] = xs[0], ys[0]
        canvas = rng.integers(0, 256, (size, size)).astype(np.uint8)
        image = Image.fromarray(canvas.copy(), mode="L")
        draw = ImageDraw.Draw(image)
        for i in range(count):
            draw.line((xs[i], ys[i], xs[i + 1], ys[i + 1]), fill=77, width=1)
        draw_polyline_closed(canvas, xs, ys, 77, short_walk_offsets(size))
        assert np.array_equal(canvas, np.array(image))


def test_later_segments_overwrite_earlier():
    canvas = np.zeros((10, 10), dtype=np.uint8)
    draw_line(canvas, 0, 5, 9, 5, 10)
    draw_line(canvas, 5, 0, 5, 9, 20)
    assert canvas[5, 5] == 20 and canvas[5, 4] == 10
