"""Seeds for training: every random draw is a pure function of (seed, named position).

Training never relies on random state carried from one step to the next. Each sample's
augmentation is seeded from (seed, epoch, stream, index) and each optimisation step from
(seed, rank, step), so a resumed run replays exactly the draws of an uninterrupted one and no
generator state needs to be saved in checkpoints.
"""

import hashlib
import random

import numpy as np
import torch


def derive_seed(*parts: int | str) -> int:
    """A 63-bit seed from integers and short names, stable across processes and runs."""
    text = "/".join(str(part) for part in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


def seed_all(seed: int, device: torch.device | None = None) -> None:
    """Seed the global generators that timm, torchvision and torch layers draw from.

    Only the CPU generator and, when given, the CUDA device's generator: torch.manual_seed
    would also probe CUDA, which costs ~0.3 ms, too much to do per sample.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.default_generator.manual_seed(seed)
    if device is not None and device.type == "cuda":
        torch.cuda.manual_seed(seed)
