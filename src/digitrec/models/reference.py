"""The `Net` of the PyTorch project's own example, pytorch/examples mnist/main.py."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_model


@dataclass
class ReferenceConfig:
    num_classes: int = 10
    in_channels: int = 1
    image_size: int = 28  # pixels per side
    dropout1: float = 0.25  # after the pooled conv features
    dropout2: float = 0.5  # after fc1
    hidden: int = 128  # width of fc1


class ReferenceNet(nn.Module):
    """Same layers and attribute names as the example, so its state_dict keys match."""

    def __init__(self, config: ReferenceConfig) -> None:
        super().__init__()
        self.config = config
        self.conv1 = nn.Conv2d(config.in_channels, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(config.dropout1)
        self.dropout2 = nn.Dropout(config.dropout2)
        # Two valid 3x3 convs (side - 2 each) then max_pool2d(2): 28 -> 26 -> 24 -> 12, so 64 * 12 * 12 = 9216.
        side = (config.image_size - 4) // 2
        if side < 1:
            raise ValueError(f"image_size={config.image_size} is too small for the reference net")
        self.fc1 = nn.Linear(64 * side * side, config.hidden)
        self.fc2 = nn.Linear(config.hidden, config.num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(images))
        x = F.relu(self.conv2(x))
        x = self.dropout1(F.max_pool2d(x, 2))
        x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))
        # The example returns log_softmax and trains with nll_loss; we return logits and train with
        # cross_entropy, which is log_softmax + nll_loss: the same loss, and the same argmax.
        return self.fc2(x)  # (B, num_classes) logits


@register_model("reference", source="pytorch/examples mnist/main.py Net")
def reference(**kwargs) -> ReferenceNet:
    """PyTorch example CNN: conv 32, conv 64, pool, dropout, fc 128, dropout, fc 10 (1.2 M params).

    kwargs: num_classes=10, in_channels=1, image_size=28, dropout1=0.25, dropout2=0.5, hidden=128.
    """
    return ReferenceNet(ReferenceConfig(**kwargs))
