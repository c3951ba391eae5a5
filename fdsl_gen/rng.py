"""Seed derivation and the shuffled sample order.

Every seed is a pure function of (dataset seed, purpose, ids), independent of worker count
and order. Purposes are small integer tags so that streams for different uses never collide.
"""
import numpy as np

from .raster.seed_sequence import entropy_words, generate_state

# The plan's streams; each family declares its own (Family.streams), and registration checks
# that no two streams share a purpose.
ORDER = 1  # permutation of render groups across the dataset
SHARD_SHUFFLE = 2  # order of the samples inside one shard
PLAN_STREAMS = {"order": ORDER, "shard_shuffle": SHARD_SHUFFLE}


def derive_key(seed, purpose, *ids):
    """A 64-bit key for (seed, purpose, ids): the first two words of numpy's
    ``SeedSequence([seed, purpose, *ids]).generate_state(2, np.uint32)`` (stable by contract),
    computed by our Numba implementation of it (raster/seed_sequence.py), 6x faster."""
    words = generate_state(entropy_words((seed, purpose, *ids)), 2)
    return (int(words[0]) << 32) | int(words[1])


def _mix(values, key, round_index, mask):
    # One Feistel round function: a SplitMix64-style finaliser of (value, key, round).
    z = (values + np.uint64(key) + np.uint64(round_index) * np.uint64(0x9E3779B97F4A7C15)) & np.uint64(
        0xFFFFFFFFFFFFFFFF
    )
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return (z ^ (z >> np.uint64(31))) & mask


def _feistel(size, key, rounds):
    """(encrypt, decrypt): a balanced Feistel network on the smallest even number of bits
    covering ``size``, and its inverse."""
    half_bits = max(1, ((int(size) - 1).bit_length() + 1) // 2)
    mask = np.uint64((1 << half_bits) - 1)
    shift = np.uint64(half_bits)
    keys = [key ^ (r * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF for r in range(rounds)]

    def encrypt(values):
        left = values >> shift
        right = values & mask
        with np.errstate(over="ignore"):
            for r in range(rounds):
                left, right = right, left ^ _mix(right, keys[r], r, mask)
        return (left << shift) | right

    def decrypt(values):
        left = values >> shift
        right = values & mask
        with np.errstate(over="ignore"):
            for r in reversed(range(rounds)):
                left, right = right ^ _mix(left, keys[r], r, mask), left
        return (left << shift) | right

    return encrypt, decrypt


def _walk(cipher, positions, size):
    """Cycle walking: apply ``cipher`` until every value lies in [0, size)."""
    result = cipher(positions)
    outside = result >= np.uint64(size)
    while outside.any():
        result[outside] = cipher(result[outside])
        outside = result >= np.uint64(size)
    return result


def permute(positions, size, key, rounds=6):
    """Map positions in [0, size) through a keyed bijection of [0, size).

    A balanced Feistel network with cycle walking to stay inside the range: O(1) memory, so
    the order of 21M samples costs nothing to hold, and any shard can compute its own slice."""
    positions = np.asarray(positions, dtype=np.uint64)
    if size <= 1:
        return positions.copy()
    return _walk(_feistel(size, key, rounds)[0], positions, size)


def unpermute(values, size, key, rounds=6):
    """The inverse of ``permute``: the positions that ``permute`` maps to ``values``."""
    values = np.asarray(values, dtype=np.uint64)
    if size <= 1:
        return values.copy()
    return _walk(_feistel(size, key, rounds)[1], values, size)
