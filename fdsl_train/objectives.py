"""Training objectives: what one optimisation step computes, kept apart from the loop that runs
the steps (engine.train).

An objective owns the network the optimiser trains (`model`, saved as the checkpoint's "model")
and any state of its own, which it hands to the checkpoint with `state_dict()` and takes back
with `load_state_dict()` (MoCo: the key encoder, the queue and its pointer). Once a step, under
autocast, the loop calls `loss(forward, images, targets, step)`, where `forward` is `model`
wrapped for DDP and `images` a normalised batch on the training device: (B, 3, H, W) for
classification, (B, 2, 3, H, W), two views of each image, for the contrastive objectives.

- Classification: cross-entropy, with mixup/cutmix and label smoothing (pretrain, finetune).
- LinearProbe: cross-entropy of a new classifier on a frozen backbone kept in eval mode.
- Moco: MoCo v2 (He et al., CVPR 2020; Chen et al., arXiv 2003.04297): a momentum key encoder
  and a queue of negative keys, shuffle-BN across ranks.
- AlignUniform: the alignment and uniformity losses of Wang & Isola (ICML 2020).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from timm.data import Mixup
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
from torch import nn

from fdsl_train import InputError
from fdsl_train.rng import derive_seed

if TYPE_CHECKING:
    from fdsl_train.engine import Distributed

CONTRASTIVE_LOSSES = ("moco", "align-uniform")


class Objective:
    """What the objectives share: a trained `model` and no state of their own."""

    name = "objective"
    model: nn.Module

    def to(self, device: torch.device) -> None:
        self.model.to(device)

    def train(self) -> None:
        self.model.train()

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


# --------------------------------------------------------------------------------------------
# Classification


class Classification(Objective):
    """Cross-entropy on class labels; with mixup/cutmix, Mixup makes the smoothed soft targets."""

    name = "classification"

    def __init__(self, model: nn.Module, num_classes: int, smoothing: float = 0.0, mixup: float = 0.0,
                 cutmix: float = 0.0, mixup_prob: float = 1.0, mixup_switch_prob: float = 0.5, batch_size: int = 2):
        self.model = model
        self.mixup = None
        if mixup > 0 or cutmix > 0:
            if batch_size % 2:
                raise InputError("mixup/cutmix need an even --batch-size")
            self.mixup = Mixup(mixup_alpha=mixup, cutmix_alpha=cutmix, prob=mixup_prob, switch_prob=mixup_switch_prob,
                               label_smoothing=smoothing, num_classes=num_classes)
            self.criterion = SoftTargetCrossEntropy()
        else:
            self.criterion = LabelSmoothingCrossEntropy(smoothing) if smoothing > 0 else nn.CrossEntropyLoss()

    def loss(self, forward, images: torch.Tensor, targets: torch.Tensor, step: int) -> torch.Tensor:
        if self.mixup is not None:
            images, targets = self.mixup(images, targets)
        return self.criterion(forward(images), targets)


class LinearProbe(Classification):
    """A linear classifier on a frozen backbone (the MoCo protocol): only the classifier trains,
    initialised N(0, 0.01) with bias 0; the whole network stays in eval mode, so BN keeps the
    pre-trained statistics. `backbone_unchanged()` tells whether the rest is still bit-identical
    to what it was when the probe was built."""

    name = "linear"

    def __init__(self, model: nn.Module, num_classes: int):
        super().__init__(model, num_classes)
        classifier = model.get_classifier()
        if not isinstance(classifier, nn.Linear):
            raise InputError(f"model {model.pretrained_cfg.get('architecture')} has no linear classifier to probe with")
        model.requires_grad_(False)
        classifier.requires_grad_(True)
        nn.init.normal_(classifier.weight, 0.0, 0.01)
        nn.init.zeros_(classifier.bias)
        self.head_prefix = next(name for name, module in model.named_modules() if module is classifier) + "."
        self.initial_backbone = {name: tensor.clone() for name, tensor in self.backbone_state().items()}

    def backbone_state(self) -> dict[str, torch.Tensor]:
        """Every tensor of the model's state (weights and BN buffers) except the classifier's."""
        return {name: tensor for name, tensor in self.model.state_dict().items() if not name.startswith(self.head_prefix)}

    def backbone_unchanged(self) -> bool:
        current = self.backbone_state()
        return current.keys() == self.initial_backbone.keys() and all(
            torch.equal(current[name].cpu(), self.initial_backbone[name].cpu()) for name in current)

    def train(self) -> None:
        self.model.eval()  # frozen BN statistics, no dropout: the backbone is a fixed feature extractor


# --------------------------------------------------------------------------------------------
# Contrastive objectives


@dataclass
class ContrastiveConfig:
    """The contrastive settings of a run (see the README for their sources)."""

    loss: str = "moco"  # "moco" or "align-uniform"
    dim: int = 128  # embedding size
    mlp_hidden: int = 2048  # hidden width of the 2-layer projection head; 0: one linear layer
    queue_size: int = 65536  # MoCo: K, negative keys
    key_momentum: float = 0.999  # MoCo: m of the key encoder's moving average
    temperature: float = 0.2  # MoCo: tau of the InfoNCE logits
    align_weight: float = 1.0  # align-uniform: loss = align_weight * L_align(alpha) ...
    uniform_weight: float = 1.0  # ... + uniform_weight * (L_uniform(x; t) + L_uniform(y; t)) / 2
    align_alpha: float = 2.0
    uniform_t: float = 2.0


class EmbeddingNet(nn.Module):
    """A backbone (a timm model without classifier: pooled features) and a projection head;
    the embeddings are L2-normalised. The backbone is what `finetune`, `linear` and the kNN
    monitor use."""

    def __init__(self, backbone: nn.Module, dim: int, mlp_hidden: int):
        super().__init__()
        self.backbone = backbone
        features = getattr(backbone, "head_hidden_size", None) or backbone.num_features
        self.head = (nn.Sequential(nn.Linear(features, mlp_hidden), nn.ReLU(inplace=True), nn.Linear(mlp_hidden, dim))
                     if mlp_hidden > 0 else nn.Linear(features, dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.backbone(images)), dim=1)


def batch_shuffle(global_batch: int, seed: int, step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The shuffle-BN permutation of step `step`'s global batch and its inverse.

    The MoCo reference draws it on rank 0 and broadcasts it; here it is seeded by (seed, step),
    so every rank draws the same one without communicating (and a resumed run draws it again).
    """
    generator = torch.Generator().manual_seed(derive_seed(seed, "shuffle-bn", step))
    permutation = torch.randperm(global_batch, generator=generator)
    return permutation, torch.argsort(permutation)


def shuffled_forward(encoder: nn.Module, images: torch.Tensor, permutation: torch.Tensor, inverse: torch.Tensor,
                     dist: "Distributed") -> torch.Tensor:
    """Shuffle-BN: run `encoder` on this rank's slice of the shuffled global batch, so that its BN
    statistics come from samples of all ranks, not from this rank's queries' own images, then
    undo the shuffle: the outputs of this rank's own samples, in their order."""
    rank, world_size = dist.rank, dist.world_size
    everything = dist.all_gather(images)
    mine = permutation.view(world_size, -1)[rank].to(images.device)
    outputs = dist.all_gather(encoder(everything[mine]))
    return outputs[inverse.to(outputs.device)].view(world_size, -1, *outputs.shape[1:])[rank]


def safe_queue_size(num_images: int, global_batch: int) -> int:
    """The longest queue (whole global batches) within half of `num_images`, 0 if not one batch.

    An image's visits in two consecutive epochs lie up to two epochs of keys apart (one on
    average), so a queue of more than half an epoch often still holds the query's own earlier key, a
    false negative: about 1 query in 8 with half an epoch of keys, 1 in 2 with a whole one, all
    with two. Small image folders meet this at MoCo's usual queue sizes.
    """
    return num_images // 2 // global_batch * global_batch


class Moco(Objective):
    """MoCo v2: InfoNCE of each query against its key (the other view, through the key encoder)
    and the K keys of the queue; the key encoder is a moving average of the query encoder.

    The queue (dim x K) starts as seeded random unit vectors, the same on every rank; each step
    the keys of all ranks are gathered and written over its oldest entries, so every rank holds
    the same queue. K must be a multiple of the global batch.
    """

    name = "moco"

    def __init__(self, model: EmbeddingNet, config: ContrastiveConfig, global_batch: int, seed: int,
                 dist: "Distributed"):
        if config.queue_size % global_batch:
            raise InputError(f"--queue-size {config.queue_size} is not a multiple of the global batch {global_batch} "
                             f"(--batch-size x {dist.world_size} processes): the queue takes whole batches of keys")
        self.model = model
        self.key_encoder = copy.deepcopy(model).requires_grad_(False)
        self.config = config
        self.seed = seed
        self.dist = dist
        generator = torch.Generator().manual_seed(derive_seed(seed, "queue"))
        self.queue = F.normalize(torch.randn(config.dim, config.queue_size, generator=generator), dim=0)
        self.queue_pointer = 0

    def to(self, device: torch.device) -> None:
        self.model.to(device)
        self.key_encoder.to(device)
        self.queue = self.queue.to(device)

    def train(self) -> None:
        self.model.train()
        self.key_encoder.train()  # as in the reference: keys use their batch's BN statistics

    @torch.no_grad()
    def _update_key_encoder(self) -> None:
        momentum = self.config.key_momentum
        for key, query in zip(self.key_encoder.parameters(), self.model.parameters()):
            key.mul_(momentum).add_(query.detach(), alpha=1 - momentum)

    @torch.no_grad()
    def keys(self, images: torch.Tensor, step: int) -> torch.Tensor:
        self._update_key_encoder()
        if self.dist.world_size == 1:  # one process: BN sees the whole batch whatever its order
            return self.key_encoder(images)
        permutation, inverse = batch_shuffle(len(images) * self.dist.world_size, self.seed, step)
        return shuffled_forward(self.key_encoder, images, permutation, inverse, self.dist)

    def loss(self, forward, views: torch.Tensor, targets: torch.Tensor, step: int) -> torch.Tensor:
        queries = forward(views[:, 0]).float()
        keys = self.keys(views[:, 1], step).float()
        positive = (queries * keys).sum(dim=1, keepdim=True)
        negative = queries @ self.queue.clone()  # a copy: the queue changes below, before backward
        logits = torch.cat([positive, negative], dim=1) / self.config.temperature
        loss = F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long, device=logits.device))
        self._enqueue(self.dist.all_gather(keys))
        return loss

    @torch.no_grad()
    def _enqueue(self, keys: torch.Tensor) -> None:
        start = self.queue_pointer
        self.queue[:, start : start + len(keys)] = keys.T
        self.queue_pointer = (start + len(keys)) % self.config.queue_size

    def state_dict(self) -> dict:
        return dict(key_encoder=self.key_encoder.state_dict(), queue=self.queue, queue_pointer=self.queue_pointer)

    def load_state_dict(self, state: dict) -> None:
        self.key_encoder.load_state_dict(state["key_encoder"])
        self.queue.copy_(state["queue"])
        self.queue_pointer = int(state["queue_pointer"])


def align_loss(x: torch.Tensor, y: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """E ||f(x) - f(y)||^alpha over positive pairs (Wang & Isola 2020, eq. 4)."""
    return (x - y).norm(p=2, dim=1).pow(alpha).mean()


def uniform_loss(x: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """log E exp(-t ||f(x) - f(y)||^2) over all pairs of distinct samples (eq. 5)."""
    return torch.pdist(x, p=2).pow(2).mul(-t).exp().mean().log()


class AlignUniform(Objective):
    """align_weight * L_align + uniform_weight * (L_uniform(x) + L_uniform(y)) / 2, both views
    through the encoder in one batch, as in the reference. Under DDP the uniformity term is taken
    over the global batch (embeddings gathered with their gradients), as the reference's
    single-process DataParallel did."""

    name = "align-uniform"

    def __init__(self, model: EmbeddingNet, config: ContrastiveConfig, dist: "Distributed"):
        self.model = model
        self.config = config
        self.dist = dist

    def loss(self, forward, views: torch.Tensor, targets: torch.Tensor, step: int) -> torch.Tensor:
        x, y = forward(torch.cat([views[:, 0], views[:, 1]])).float().chunk(2)
        config = self.config
        uniformity = (uniform_loss(self.dist.all_gather(x), config.uniform_t)
                      + uniform_loss(self.dist.all_gather(y), config.uniform_t)) / 2
        return config.align_weight * align_loss(x, y, config.align_alpha) + config.uniform_weight * uniformity
