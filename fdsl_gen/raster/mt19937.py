"""MT19937 in Numba, for replaying the reference scripts' random streams.

The state is a uint32[625] array: 624 key words followed by the position of the next word
(numpy's and CPython's ``pos``). Initial states come from numpy/CPython themselves
(``legacy_state`` / ``python_state``), so seeding is exact by construction.
"""
import array
import random

import numpy as np
from numba import njit

N = 624
assert array.array("I").itemsize == 4  # python_state reads C unsigned ints as uint32
M = 397
MATRIX_A = np.uint32(0x9908B0DF)
UPPER_MASK = np.uint32(0x80000000)
LOWER_MASK = np.uint32(0x7FFFFFFF)


def legacy_state(seed):
    """State of ``np.random.RandomState(seed)`` (numpy's legacy global generator)."""
    _, key, pos, _, _ = np.random.RandomState(seed).get_state(legacy=True)
    return _pack(key, pos)


def python_state(seed):
    """State of ``random.seed(seed)`` (CPython's standard ``random`` module)."""
    words = random.Random(seed).getstate()[1]  # the 624 key words, then pos: our layout
    # array.array converts the tuple of ints in C, several times faster than np.asarray (this
    # runs once per VisualAtom image).
    return np.frombuffer(array.array("I", words), dtype=np.uint32)


def _pack(key, pos):
    state = np.empty(N + 1, dtype=np.uint32)
    state[:N] = np.asarray(key, dtype=np.uint32)
    state[N] = pos
    return state


@njit(cache=True, nogil=True)
def twist(state):
    """Regenerate the 624 key words in place (the reference's 'gen' step)."""
    for i in range(N - M):
        y = (state[i] & UPPER_MASK) | (state[i + 1] & LOWER_MASK)
        state[i] = state[i + M] ^ (y >> np.uint32(1)) ^ ((np.uint32(0) - (y & np.uint32(1))) & MATRIX_A)
    for i in range(N - M, N - 1):
        y = (state[i] & UPPER_MASK) | (state[i + 1] & LOWER_MASK)
        state[i] = state[i + M - N] ^ (y >> np.uint32(1)) ^ ((np.uint32(0) - (y & np.uint32(1))) & MATRIX_A)
    y = (state[N - 1] & UPPER_MASK) | (state[0] & LOWER_MASK)
    state[N - 1] = state[M - 1] ^ (y >> np.uint32(1)) ^ ((np.uint32(0) - (y & np.uint32(1))) & MATRIX_A)


@njit(cache=True, nogil=True, inline="always")
def temper(word):
    word ^= word >> np.uint32(11)
    word ^= (word << np.uint32(7)) & np.uint32(0x9D2C5680)
    word ^= (word << np.uint32(15)) & np.uint32(0xEFC60000)
    word ^= word >> np.uint32(18)
    return word


@njit(cache=True, nogil=True, inline="always")
def next_u32(state):
    if state[N] >= N:
        twist(state)
        state[N] = 0
    pos = state[N]
    state[N] = pos + 1
    return temper(state[pos])


@njit(cache=True, nogil=True)
def next_double(state):
    """53-bit double from two words: numpy's ``random_sample`` and CPython's ``random()``."""
    a = next_u32(state) >> np.uint32(5)
    b = next_u32(state) >> np.uint32(6)
    return (a * 67108864.0 + b) / 9007199254740992.0


@njit(cache=True, nogil=True)
def fill_words(state, out):
    """``out[:] = next_u32()`` repeatedly, a key block at a time (the tempering vectorises)."""
    pos = np.int64(state[N])
    done = 0
    while done < out.shape[0]:
        if pos >= N:
            twist(state)
            pos = 0
        count = min(N - pos, out.shape[0] - done)
        for j in range(count):
            out[done + j] = temper(state[pos + j])
        pos += count
        done += count
    state[N] = pos


@njit(cache=True, nogil=True)
def fill_doubles(state, out):
    """``out[:] = next_double()`` repeatedly (numpy's ``random_sample``, CPython's ``random()``)."""
    words = np.empty(2 * out.shape[0], dtype=np.uint32)
    fill_words(state, words)
    for i in range(out.shape[0]):
        out[i] = ((words[2 * i] >> np.uint32(5)) * 67108864.0 + (words[2 * i + 1] >> np.uint32(6))) / 9007199254740992.0


@njit(cache=True, nogil=True)
def skip(state, count):
    """Advance the stream by ``count`` words without tempering them."""
    pos = np.int64(state[N]) + count
    while pos > N:
        twist(state)
        pos -= N
    state[N] = pos


@njit(cache=True, nogil=True)
def legacy_randint(state, low, high):
    """``RandomState.randint(low, high)`` (high exclusive), legacy masked rejection sampling."""
    span = np.uint32(high - 1 - low)
    if span == 0:
        return low
    mask = span
    mask |= mask >> np.uint32(1)
    mask |= mask >> np.uint32(2)
    mask |= mask >> np.uint32(4)
    mask |= mask >> np.uint32(8)
    mask |= mask >> np.uint32(16)
    while True:
        value = next_u32(state) & mask
        if value <= span:
            return low + np.int64(value)
