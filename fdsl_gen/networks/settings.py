"""Numerical settings under which a network renders, the same for every image and worker."""
import contextlib

import torch


def check_device(device):
    """None if ``device`` ("cpu" or "cuda") can render here, else why not."""
    if device == "cuda" and not torch.cuda.is_available():
        return "cuda: torch finds no CUDA device here"
    return None


@contextlib.contextmanager
def render_settings(device):
    """On the CPU, one thread: a reduction's rounding can follow how it is split over threads,
    and the workers are the parallelism. On a GPU, IEEE float32 convolutions and matrix products
    (no TF32, which rounds inputs to 10 bits) and cuDNN's deterministic algorithms, so a GPU
    render stays within rounding of the CPU one and is the same on every run."""
    if device == "cpu":
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
        return
    saved = (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision,
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.backends.cuda.matmul.fp32_precision = "ieee"
    torch.backends.cudnn.conv.fp32_precision = "ieee"
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        (torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.conv.fp32_precision,
         torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark) = saved
