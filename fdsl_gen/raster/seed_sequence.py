"""numpy's ``SeedSequence`` key derivation in Numba: ``generate_state`` of a sequence with the
default pool of 4 words and no spawn key, bit for bit (tested against numpy).

numpy's own object costs ~17 us to build, which VisualAtom pays once per image for its
instance seed. The algorithm and constants are numpy's (its documented, stable-by-contract
hash mixing); arithmetic is on uint32 words, done here in uint64 and cut to 32 bits.
"""
import numpy as np
from numba import njit

from .mt19937 import uint32_words

POOL_SIZE = 4
# uint64 typed, so that Numba keeps every operation unsigned (a Python int would be int64, and
# int64 with uint64 gives float64)
INIT_A = np.uint64(0x43B0D7E5)
MULT_A = np.uint64(0x931E8875)
INIT_B = np.uint64(0x8B51F9DD)
MULT_B = np.uint64(0x58F38DED)
MIX_MULT_L = np.uint64(0xCA01F9DD)
MIX_MULT_R = np.uint64(0x4973F715)
XSHIFT = np.uint64(16)
MASK32 = np.uint64(0xFFFFFFFF)


def entropy_words(values):
    """The entropy words of non-negative ints as SeedSequence reads them (uint64-held)."""
    if min(values) < 0:
        raise ValueError(f"seed sequence entropy must be non-negative, got {values}")
    return np.array([word for value in values for word in uint32_words(value)], dtype=np.uint64)


@njit(cache=True, nogil=True, inline="always")
def _hashmix(value, hash_const):
    """One word through the running hash; returns (mixed word, next hash constant)."""
    value = value ^ hash_const
    hash_const = (hash_const * MULT_A) & MASK32
    value = (value * hash_const) & MASK32
    return value ^ (value >> XSHIFT), hash_const


@njit(cache=True, nogil=True, inline="always")
def _mix(x, y):
    result = (MIX_MULT_L * x - MIX_MULT_R * y) & MASK32
    return result ^ (result >> XSHIFT)


@njit(cache=True, nogil=True)
def generate_state(entropy, n_words):
    """``SeedSequence(entropy).generate_state(n_words, np.uint32)`` for uint64-held words."""
    pool = np.zeros(POOL_SIZE, dtype=np.uint64)
    hash_const = INIT_A
    for i in range(POOL_SIZE):
        word = entropy[i] if i < entropy.shape[0] else np.uint64(0)
        pool[i], hash_const = _hashmix(word, hash_const)
    for source in range(POOL_SIZE):
        for target in range(POOL_SIZE):
            if source != target:
                mixed, hash_const = _hashmix(pool[source], hash_const)
                pool[target] = _mix(pool[target], mixed)
    for source in range(POOL_SIZE, entropy.shape[0]):
        for target in range(POOL_SIZE):
            mixed, hash_const = _hashmix(entropy[source], hash_const)
            pool[target] = _mix(pool[target], mixed)
    state = np.empty(n_words, dtype=np.uint32)
    hash_const = INIT_B
    for i in range(n_words):
        word = pool[i % POOL_SIZE] ^ hash_const
        hash_const = (hash_const * MULT_B) & MASK32
        word = (word * hash_const) & MASK32
        state[i] = word ^ (word >> XSHIFT)
    return state
