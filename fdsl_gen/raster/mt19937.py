"""MT19937 in Numba, for replaying the reference scripts' random streams.

The state is a uint32[625] array: 624 key words followed by the position of the next word
(numpy's and CPython's ``pos``). numpy's legacy states come from numpy itself
(``legacy_state``); CPython's are seeded here (``python_state``, tested against the standard
library), since VisualAtom seeds one stream per image and ``random.Random(seed)`` costs ~40 us.
"""
import numpy as np
from numba import njit

N = 624
M = 397
MATRIX_A = np.uint32(0x9908B0DF)
UPPER_MASK = np.uint32(0x80000000)
LOWER_MASK = np.uint32(0x7FFFFFFF)


def legacy_state(seed):
    """State of ``np.random.RandomState(seed)`` (numpy's legacy global generator)."""
    _, key, pos, _, _ = np.random.RandomState(seed).get_state(legacy=True)
    return _pack(key, pos)


def uint32_words(value):
    """A non-negative int as its 32-bit words, least significant first, at least one word: how
    both CPython's ``random.seed`` and numpy's ``SeedSequence`` read an int."""
    return [(value >> shift) & 0xFFFFFFFF for shift in range(0, max(value.bit_length(), 1), 32)]


def python_state(seed):
    """State of ``random.seed(seed)`` for an int seed: CPython seeds init_by_array with the
    words of abs(seed)."""
    return init_by_array(np.array(uint32_words(abs(int(seed))), dtype=np.uint32))


@njit(cache=True, nogil=True)
def init_by_array(key):
    """The reference MT19937 ``init_by_array(key)`` (Matsumoto and Nishimura, 2002), as
    CPython's ``random.seed`` calls it: a new state whose next word starts a fresh block.

    Products are formed in 64 bits from unsigned operands and cut to 32 bits on storing, which
    is the reference's arithmetic modulo 2**32."""
    state = np.empty(N + 1, dtype=np.uint32)
    state[0] = np.uint32(19650218)
    for i in range(1, N):
        previous = state[i - 1]
        state[i] = np.uint32(1812433253) * (previous ^ (previous >> np.uint32(30))) + np.uint32(i)
    i = 1
    j = 0
    for _ in range(max(N, key.shape[0])):
        previous = state[i - 1]
        state[i] = (state[i] ^ ((previous ^ (previous >> np.uint32(30))) * np.uint32(1664525))) + key[j] + np.uint32(j)
        i += 1
        j += 1
        if i >= N:
            state[0] = state[N - 1]
            i = 1
        if j >= key.shape[0]:
            j = 0
    for _ in range(N - 1):
        previous = state[i - 1]
        state[i] = (state[i] ^ ((previous ^ (previous >> np.uint32(30))) * np.uint32(1566083941))) - np.uint32(i)
        i += 1
        if i >= N:
            state[0] = state[N - 1]
            i = 1
    state[0] = UPPER_MASK  # the reference makes the initial array non-zero this way
    state[N] = N
    return state


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
        # over slices the tempering loop vectorises; indexed into the whole arrays it did not
        # (measured 3x slower)
        key_words = state[pos:pos + count]
        block = out[done:done + count]
        for j in range(count):
            block[j] = temper(key_words[j])
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
