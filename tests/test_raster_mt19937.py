"""raster/mt19937.py: the Numba MT19937 against numpy's legacy RandomState, word for word."""
import numpy as np

from fdsl_gen.raster import mt19937


def test_mt19937_replays_numpy_legacy_stream():
    reference = np.random.RandomState(7)
    state = mt19937.legacy_state(7)
    for step in range(300):
        assert mt19937.legacy_randint(state, 2, 8) == reference.randint(2, 8)
        assert mt19937.legacy_randint(state, 0, 1000) == reference.randint(0, 1000)
        expected = reference.uniform(-1.0, 1.0, 6)
        assert [-1.0 + 2.0 * mt19937.next_double(state) for _ in range(6)] == expected.tolist()
        count = 1 + step % 700  # crosses the 624-word boundary at every offset
        if step % 2:
            draws = np.empty(count)
            mt19937.fill_doubles(state, draws)
            assert np.array_equal(draws, reference.random_sample(count))
        else:
            mt19937.skip(state, 2 * count)
            reference.random_sample(count)
