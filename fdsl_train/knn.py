"""kNN monitor: how well a backbone's features separate the classes of a labelled set, without
training anything (the weighted kNN of Wu et al., CVPR 2018, as MoCo's monitor uses it).

The memory bank is the L2-normalised features of the training split; each validation image
takes the k most cosine-similar bank entries, each voting for its class with weight
exp(similarity / temperature); top-1 is the share of validation images whose class wins.
Under DDP every rank computes the features of its share of both splits, the bank is gathered,
and the hits are summed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fdsl_train.data import ImageFolderSet, eval_loader


def knn_predict(query: torch.Tensor, bank: torch.Tensor, bank_labels: torch.Tensor, num_classes: int, k: int = 200,
                temperature: float = 0.1) -> torch.Tensor:
    """Predicted class of each row of `query` (normalised features) from the bank's k nearest."""
    similarity, nearest = (query @ bank.T).topk(min(k, len(bank)), dim=1)
    votes = torch.zeros(len(query), num_classes, device=query.device)
    votes.scatter_add_(1, bank_labels[nearest], (similarity / temperature).exp())
    return votes.argmax(dim=1)


@torch.no_grad()
def features_of(backbone, data: ImageFolderSet, transform, prepare, batch_size: int, workers: int, dist,
                half: torch.dtype | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(normalised features, labels) of this rank's share of `data`."""
    loader = eval_loader(data, transform=transform, batch_size=batch_size, rank=dist.rank, world_size=dist.world_size,
                         workers=workers, pin_memory=dist.device.type == "cuda")
    features, labels = [], []
    for images, targets in loader:
        with torch.autocast(dist.device.type, dtype=half or torch.float32, enabled=half is not None):
            features.append(F.normalize(backbone(prepare(images)).float(), dim=1))
        labels.append(targets.to(dist.device))
    return torch.cat(features), torch.cat(labels)


def gather_uneven(rows: torch.Tensor, dist) -> torch.Tensor:
    """Every rank's rows concatenated, when ranks hold different numbers of them."""
    if dist.world_size == 1:
        return rows
    counts = dist.all_gather(torch.tensor([len(rows)], device=rows.device)).tolist()
    padded = torch.zeros((max(counts), *rows.shape[1:]), dtype=rows.dtype, device=rows.device)
    padded[: len(rows)] = rows
    gathered = dist.all_gather(padded).view(dist.world_size, max(counts), *rows.shape[1:])
    return torch.cat([gathered[rank, :count] for rank, count in enumerate(counts)])


@torch.no_grad()
def knn_top1(backbone, train: ImageFolderSet, val: ImageFolderSet, transform, prepare, *, k: int = 200,
             temperature: float = 0.1, batch_size: int = 256, workers: int = 0, dist, half=None) -> dict:
    """kNN top-1 (%) of `backbone`'s features: `train` as the memory bank, `val` as the queries."""
    was_training = backbone.training
    backbone.eval()
    bank, bank_labels = features_of(backbone, train, transform, prepare, batch_size, workers, dist, half)
    bank, bank_labels = gather_uneven(bank, dist), gather_uneven(bank_labels, dist)
    query, labels = features_of(backbone, val, transform, prepare, batch_size, workers, dist, half)
    correct = 0
    for start in range(0, len(query), batch_size):  # bounded memory: batch_size x bank similarities at a time
        predicted = knn_predict(query[start : start + batch_size], bank, bank_labels, train.num_classes, k, temperature)
        correct += int((predicted == labels[start : start + batch_size]).sum())
    correct, samples = dist.all_sum(torch.tensor([correct, len(query)], dtype=torch.float64, device=dist.device)).tolist()
    backbone.train(was_training)
    return dict(knn_top1=100 * correct / max(samples, 1), knn_samples=int(samples))
