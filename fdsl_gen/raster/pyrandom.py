"""CPython ``random`` module replay on top of the Numba MT19937 in ``mt19937.py``.

Only what the reference scripts call: ``random()``, ``uniform`` and ``randint``. Each function
consumes exactly the 32-bit words CPython would, so a stream can be replayed draw for draw.

The scalar functions are ``inline="always"`` (Numba never inlines one jitted function into
another at the LLVM level, so each would otherwise be a real call). An inlined function that
takes the state array still costs an atomic reference-count pair per call, so hot loops should
draw in bulk with ``fill_uniform``, whose loop calls the generator directly.
"""
import numpy as np
from numba import njit

from fdsl_gen.raster.mt19937 import fill_doubles, next_u32


@njit(cache=True, nogil=True, inline="always")
def double_from_words(first_word, second_word):
    """CPython's ``random()`` from two consecutive words: (a >> 5) * 2**26 + (b >> 6), / 2**53.

    Same formula as ``mt19937.next_double``, taking the words as scalars so that callers can
    inline it into their own loops. Multiplying by 2**-53 is exact, so it equals the division.
    """
    high = first_word >> np.uint32(5)
    low = second_word >> np.uint32(6)
    return (high * 67108864.0 + low) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True, inline="always")
def random(state):
    """``random.random()``."""
    first_word = next_u32(state)
    return double_from_words(first_word, next_u32(state))


@njit(cache=True, nogil=True, inline="always")
def uniform(state, lo, hi):
    """``random.uniform(lo, hi)``, computed as CPython does: lo + (hi - lo) * random()."""
    return lo + (hi - lo) * random(state)


@njit(cache=True, nogil=True)
def fill_uniform(state, lo, hi, out):
    """``out[i] = uniform(lo, hi)`` for i = 0, 1, ... in order (a list comprehension of draws)."""
    fill_doubles(state, out)  # the bulk generator: random() values, in order
    span = hi - lo
    for i in range(out.shape[0]):
        out[i] = lo + span * out[i]


@njit(cache=True, nogil=True, inline="always")
def getrandbits(state, k):
    """``random.getrandbits(k)`` for 1 <= k <= 63, as an int64.

    CPython fills the result from its least significant 32-bit word upwards; the last (most
    significant) word keeps only its top bits.
    """
    result = np.uint64(0)
    shift = np.uint64(0)
    bits_left = k
    while bits_left > 0:
        word = np.uint64(next_u32(state))
        if bits_left < 32:
            word >>= np.uint64(32 - bits_left)
        result |= word << shift
        shift += np.uint64(32)
        bits_left -= 32
    return np.int64(result)


@njit(cache=True, nogil=True, inline="always")
def bit_length(n):
    """``int.bit_length()`` for a non-negative int64."""
    length = 0
    while n > 0:
        n >>= 1
        length += 1
    return length


@njit(cache=True, nogil=True, inline="always")
def randbelow(state, n):
    """CPython's ``_randbelow_with_getrandbits(n)``: uniform in [0, n) for n >= 1.

    Uses k = n.bit_length() bits (not (n-1).bit_length()), so n = 1 and exact powers of two
    still redraw about half the time; the number of words consumed depends on the values.
    """
    k = bit_length(n)
    value = getrandbits(state, k)
    while value >= n:
        value = getrandbits(state, k)
    return value


@njit(cache=True, nogil=True, inline="always")
def randint(state, lo, hi):
    """``random.randint(lo, hi)``, both ends inclusive (requires hi >= lo)."""
    return lo + randbelow(state, hi - lo + 1)
