"""Run by test_train_moco_ddp.py under torchrun (2 processes, gloo): shuffle-BN and the MoCo
queue across ranks. Each rank writes its findings to FOLDER/rank-<r>.json (the argument)."""

import json
import sys
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from fdsl_train.engine import Distributed, build_model
from fdsl_train.objectives import ContrastiveConfig, EmbeddingNet, Moco, batch_shuffle, shuffled_forward

BATCH = 3  # per rank


def main() -> None:
    dist = Distributed.from_environment("cpu")
    dist.start()
    rank, world_size = dist.rank, dist.world_size
    findings = dict(rank=rank)

    # Shuffle-BN: sample ids as images; an encoder that records what it saw and scales it.
    permutation, inverse = batch_shuffle(BATCH * world_size, seed=4, step=7)
    findings["permutation"] = permutation.tolist()
    findings["round_trip_is_identity"] = torch.equal(permutation[inverse], torch.arange(BATCH * world_size))
    own = torch.arange(BATCH * world_size, dtype=torch.float32).view(world_size, BATCH, 1)[rank]
    seen = []

    def encoder(images):
        seen.extend(images.flatten().int().tolist())
        return images * 10

    findings["outputs_are_own_samples"] = torch.equal(shuffled_forward(encoder, own, permutation, inverse, dist), own * 10)
    findings["encoder_saw"] = seen

    # MoCo: three steps on different data per rank; the queues must stay identical.
    torch.manual_seed(0)  # the same initial weights on both ranks, as run_moco's seeding gives
    net = EmbeddingNet(build_model("test_resnet", 0, 32), dim=8, mlp_hidden=16)
    objective = Moco(net, ContrastiveConfig(dim=8, mlp_hidden=16, queue_size=12, key_momentum=0.9),
                     global_batch=BATCH * world_size, seed=3, dist=dist)
    forward = DistributedDataParallel(net)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    initial_queue = objective.queue.clone()
    for step in range(3):
        views = torch.rand(BATCH, 2, 3, 32, 32, generator=torch.Generator().manual_seed(100 * rank + step))
        objective.loss(forward, views, None, step).backward()
        optimizer.step()
        optimizer.zero_grad()
    queues = dist.all_gather(objective.queue[None])
    findings["queues_identical"] = torch.equal(queues[0], queues[1])
    findings["queue_columns_written"] = int((objective.queue != initial_queue).any(dim=0).sum())
    findings["queue_pointer"] = objective.queue_pointer
    (Path(sys.argv[1]) / f"rank-{rank}.json").write_text(json.dumps(findings))
    dist.stop()


if __name__ == "__main__":
    main()
