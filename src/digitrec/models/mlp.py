"""Multilayer perceptron from the MXNet tutorials (seeds 000 and 001)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .registry import register_model


@dataclass
class MLPConfig:
    num_classes: int = 10
    in_channels: int = 1
    image_size: int = 28  # pixels per side; the input is flattened to in_channels * image_size**2
    hidden: tuple[int, ...] = (128, 64)  # widths of the ReLU hidden layers, as in the seeds

    def __post_init__(self) -> None:
        self.hidden = tuple(self.hidden)  # a JSON round trip turns the tuple into a list


class MLP(nn.Module):
    """Flatten -> (Linear -> ReLU) per hidden width -> Linear to logits."""

    def __init__(self, config: MLPConfig) -> None:
        super().__init__()
        self.config = config
        widths = (config.in_channels * config.image_size**2, *config.hidden)
        layers: list[nn.Module] = [nn.Flatten()]
        for width_in, width_out in zip(widths, widths[1:]):
            layers += [nn.Linear(width_in, width_out), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], config.num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)  # (B, C, H, W) -> (B, num_classes) logits


@register_model("mlp", source="seeds 000/001: MXNet MLP 784-128-64-10")
def mlp(**kwargs) -> MLP:
    """784-128-ReLU-64-ReLU-10 fully connected network.

    kwargs: num_classes=10, in_channels=1, image_size=28, hidden=(128, 64).
    """
    return MLP(MLPConfig(**kwargs))
