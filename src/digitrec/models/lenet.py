"""LeNet with tanh activations, as in the MXNet tutorials (seeds 000 and 001)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .registry import register_model


@dataclass
class LeNetConfig:
    num_classes: int = 10
    in_channels: int = 1
    image_size: int = 28  # pixels per side
    channels: tuple[int, int] = (20, 50)  # filters of conv1 and conv2
    kernel_size: int = 5  # valid convolutions (no padding), as MXNet's Convolution defaults
    hidden: int = 500  # width of the tanh fully connected layer

    def __post_init__(self) -> None:
        self.channels = tuple(self.channels)


class LeNet(nn.Module):
    """conv-tanh-maxpool x2 -> fc-tanh -> fc to logits."""

    def __init__(self, config: LeNetConfig) -> None:
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        k = config.kernel_size
        self.features = nn.Sequential(
            nn.Conv2d(config.in_channels, c1, k), nn.Tanh(), nn.MaxPool2d(2, 2),
            nn.Conv2d(c1, c2, k), nn.Tanh(), nn.MaxPool2d(2, 2),
        )
        # Each stage is a valid conv (side - k + 1) then a 2/2 pool (floor halving): 28 -> 24 -> 12 -> 8 -> 4.
        side = ((config.image_size - k + 1) // 2 - k + 1) // 2
        if side < 1:
            raise ValueError(f"image_size={config.image_size} is too small for LeNet with kernel_size={k}")
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c2 * side * side, config.hidden), nn.Tanh(),
            nn.Linear(config.hidden, config.num_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))  # (B, C, H, W) -> (B, num_classes) logits


@register_model("lenet", source="seeds 000/001: MXNet LeNet (tanh, max-pool)")
def lenet(**kwargs) -> LeNet:
    """Conv 20@5x5 tanh, pool, conv 50@5x5 tanh, pool, fc 500 tanh, fc 10.

    kwargs: num_classes=10, in_channels=1, image_size=28, channels=(20, 50), kernel_size=5, hidden=500.
    """
    return LeNet(LeNetConfig(**kwargs))
