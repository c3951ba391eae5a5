"""Torch networks that some families render with (random StyleGAN synthesis, feature
visualisation). Only these modules import torch, so the other families' worker processes never
load it. Like the raster kernels they are pure functions of tensors and seeds: keys, caching and
batching belong to the family that composes them."""
