"""raster/seed_sequence.py, behind rng.derive_key: numpy's SeedSequence, word for word."""
import numpy as np
import pytest

from fdsl_gen import rng


@pytest.mark.parametrize("ids", [(0, 1), (1, 4, 0), (0, 5, 20999, 999), (2**64 - 1, 6, 2**40), (7, 3, 1, 2, 3, 4, 5),
                                 (3**50, 2)])
def test_derive_key_is_numpys_seed_sequence(ids):
    # one to many entropy words, fewer and more words than the pool of 4
    words = np.random.SeedSequence(list(ids)).generate_state(2, dtype=np.uint32)
    assert rng.derive_key(*ids) == (int(words[0]) << 32) | int(words[1])
