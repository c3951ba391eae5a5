"""Placing rigidly transformed patches of a source image on a canvas, pixel for pixel.

Images are (height, width, channels) uint8 arrays (a grayscale image as one channel). A
transform code t in 0..7 is a rotation by (t & 3) x 90 degrees counterclockwise (as
``np.rot90(patch, t & 3)``) followed, when t & 4, by a left-right flip (``np.fliplr``). A
rotation by 90 or 270 degrees turns an h x w patch into a w x h one, so callers use odd
rotations on square patches only. Nothing is resampled: every output pixel is a source pixel.
"""
from numba import njit


@njit(cache=True, nogil=True)
def copy_transformed(source, y0, x0, h, w, transform, canvas, top, left):
    """Write patch source[y0:y0+h, x0:x0+w] under ``transform`` to canvas[top:, left:]."""
    turns = transform & 3
    flip = transform >> 2
    out_h, out_w = (h, w) if turns % 2 == 0 else (w, h)
    for i in range(out_h):
        for j in range(out_w):
            jj = out_w - 1 - j if flip else j  # the flip comes last: undo it first
            if turns == 0:
                y, x = i, jj
            elif turns == 1:
                y, x = jj, w - 1 - i
            elif turns == 2:
                y, x = h - 1 - i, w - 1 - jj
            else:
                y, x = h - 1 - jj, i
            for c in range(source.shape[2]):
                canvas[top + i, left + j, c] = source[y0 + y, x0 + x, c]


@njit(cache=True, nogil=True)
def place_patches(source, corners, permutation, transforms, patch_h, patch_w, grid, canvas):
    """Fill the grid x grid slots of patch_h x patch_w (row-major) at the canvas's top left:
    slot s gets the source patch whose top-left corner is corners[permutation[s]], under
    transforms[s]."""
    for slot in range(grid * grid):
        corner = permutation[slot]
        row, column = divmod(slot, grid)
        copy_transformed(source, corners[corner, 0], corners[corner, 1], patch_h, patch_w, transforms[slot],
                         canvas, row * patch_h, column * patch_w)
