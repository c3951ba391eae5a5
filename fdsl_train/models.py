"""Models timm does not have, registered with timm so that every command can name them.

`small_alexnet` is the AlexNet-style encoder of Wang & Isola's STL-10 experiments (ICML 2020,
after Tian et al.'s CMC), the encoder of Baradad et al.'s small-scale (64 px) experiments.
"""

from __future__ import annotations

import torch
from torch import nn
from timm.models import register_model


def _conv_block(in_channels: int, out_channels: int, pool: bool) -> nn.Sequential:
    layers = [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
              nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.MaxPool2d(3, 2)) if pool else nn.Sequential(*layers)


def _fc_block(in_features: int, out_features: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_features, out_features, bias=False), nn.BatchNorm1d(out_features),
                         nn.ReLU(inplace=True))


class SmallAlexNet(nn.Module):
    """Five 3x3 conv blocks (96, 192, 384, 384, 192 channels, BN, ReLU; 3x3 max-pools of stride 2
    after blocks 1, 2 and 5) and two 4096-wide fully connected blocks (fc6, fc7, with BN). Its
    features are fc7's; `fc` is the classifier (the reference's fc8 is the projection head,
    which fdsl_train adds itself). Weights start as in the reference: N(0, 0.02), biases 0."""

    def __init__(self, num_classes: int = 1000, img_size: int = 64, in_chans: int = 3):
        super().__init__()
        self.features = nn.Sequential(
            _conv_block(in_chans, 96, pool=True), _conv_block(96, 192, pool=True), _conv_block(192, 384, pool=False),
            _conv_block(384, 384, pool=False), _conv_block(384, 192, pool=True), nn.Flatten(),
        )
        side = img_size
        for _ in range(3):  # each max-pool: (side - 3) // 2 + 1
            side = (side - 3) // 2 + 1
        if side < 1:
            raise ValueError(f"small_alexnet needs images of at least 15 px, not {img_size}")
        self.fc67 = nn.Sequential(_fc_block(192 * side * side, 4096), _fc_block(4096, 4096))
        self.num_features = self.head_hidden_size = 4096
        self.num_classes = num_classes
        self.fc = nn.Linear(4096, num_classes) if num_classes > 0 else nn.Identity()
        self.pretrained_cfg = self.default_cfg = dict(architecture="small_alexnet", classifier="fc", input_size=(
            in_chans, img_size, img_size), mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                nn.init.normal_(module.weight, 0.0, 0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.fc = nn.Linear(4096, num_classes) if num_classes > 0 else nn.Identity()

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc67(self.features(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc(self.forward_features(images))


@register_model
def small_alexnet(pretrained: bool = False, pretrained_cfg=None, pretrained_cfg_overlay=None, cache_dir=None,
                  **kwargs) -> SmallAlexNet:
    if pretrained:
        raise ValueError("small_alexnet has no pre-trained weights")
    return SmallAlexNet(**kwargs)
