"""pyrandom replays CPython's ``random`` draw for draw."""
import random as stdlib_random

import numpy as np
import pytest

from fdsl_gen.raster import pyrandom
from fdsl_gen.raster.mt19937 import python_state

RANGES = [
    (0, 255), (-512, 512), (0, 0), (5, 5), (0, 1), (1, 200), (200, 1000), (0, 20),
    (10, 60), (-3, 7), (0, 2**31), (-(2**31), 2**31 - 1), (0, 2**31 - 1), (0, 2**32),
    (7, 2**40), (0, 1023), (0, 1024),
]


@pytest.mark.parametrize("seed", [0, 1, 624, 2**32 - 1, 2**32, 2**63 - 1, 2**64 + 5, 3**100, -7,
                                  stdlib_random.Random(0).getrandbits(63)])
def test_seeding_matches_stdlib(seed):
    # one key word below 2**32, several above; CPython seeds with abs(seed)
    expected = np.array(stdlib_random.Random(seed).getstate()[1], dtype=np.uint32)
    assert np.array_equal(python_state(seed), expected)


@pytest.mark.parametrize("seed", [1, 2, 3, 20, 12345])
def test_mixed_sequence_matches_stdlib(seed):
    reference = stdlib_random.Random(seed)
    state = python_state(seed)
    choice = np.random.default_rng(seed)
    for _ in range(3000):
        kind = choice.integers(0, 3)
        if kind == 0:
            lo, hi = RANGES[choice.integers(0, len(RANGES))]
            assert pyrandom.randint(state, lo, hi) == reference.randint(lo, hi)
        elif kind == 1:
            lo, hi = float(choice.uniform(-10, 10)), float(choice.uniform(-10, 10))
            assert pyrandom.uniform(state, lo, hi) == reference.uniform(lo, hi)
        else:
            assert pyrandom.random(state) == reference.random()
    # Same position afterwards: the next raw words agree too.
    assert pyrandom.getrandbits(state, 32) == reference.getrandbits(32)


@pytest.mark.parametrize("k", [1, 7, 8, 9, 31, 32, 33, 63])
def test_getrandbits_matches_stdlib(k):
    reference = stdlib_random.Random(7)
    state = python_state(7)
    for _ in range(200):
        assert pyrandom.getrandbits(state, k) == reference.getrandbits(k)


def test_randint_uniform_with_int_bounds():
    # The reference passes ints to uniform (e.g. uniform(0, 4)); the result must still agree.
    reference = stdlib_random.Random(3)
    state = python_state(3)
    for _ in range(500):
        assert pyrandom.uniform(state, 0.0, 4.0) == reference.uniform(0, 4)
        assert pyrandom.uniform(state, 1.0, 2.0) == reference.uniform(1, 2)


def test_fill_uniform_matches_a_list_of_draws():
    reference = stdlib_random.Random(11)
    state = python_state(11)
    for count in (0, 1, 5, 1000, 2000):  # crosses several 624-word blocks
        out = np.empty(count)
        pyrandom.fill_uniform(state, 0.0, 10000.0, out)
        assert out.tolist() == [reference.uniform(0, 10000) for _ in range(count)]
        assert pyrandom.randint(state, 0, 255) == reference.randint(0, 255)


def test_bit_length():
    for n in [0, 1, 2, 3, 255, 256, 1025, 2**31, 2**62]:
        assert pyrandom.bit_length(n) == n.bit_length()


def test_randbelow_replays_random_choice():
    for seed in (0, 1, 12345):
        py_random = stdlib_random.Random(seed)
        expected = [py_random.choice(range(6)) for _ in range(2000)]
        state = python_state(seed)
        assert [pyrandom.randbelow(state, 6) for _ in range(2000)] == expected
