"""Networks for the camera, as stable-baselines3 feature extractors.

``shallow`` and ``standard`` are DeepRacer's "3-layer" and "5-layer" CNNs (reference
section 6: valid convolutions, ReLU after every layer, the image scaled to [0, 1]).
``light`` is ours: a 2x2 average pooling *inside* the network, then two convolutions and
a dense layer. It still reads the whole 160x120 frame but costs about 25x less compute than
the 3-layer CNN, which is what makes a first lap in minutes possible on a 2-core CPU
(see shared peer figures: ~13,500 vs ~550 training frames/s).

SB3 hands the extractors channel-first float images already divided by 255.
"""

from __future__ import annotations

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn


def _conv_stack(channels: int, layers: list[tuple[int, int, int]]) -> list[nn.Module]:
    modules: list[nn.Module] = []
    for filters, kernel, stride in layers:
        modules += [nn.Conv2d(channels, filters, kernel, stride), nn.ReLU()]
        channels = filters
    return modules


class CameraCNN(BaseFeaturesExtractor):
    """Convolutions, flatten, then dense layers; the layout is given by class attributes."""

    pool: int = 1
    convs: tuple[tuple[int, int, int], ...] = ()
    dense: tuple[int, ...] = ()

    def __init__(self, observation_space: gym.spaces.Box):
        channels = observation_space.shape[0]
        body: list[nn.Module] = [nn.AvgPool2d(self.pool)] if self.pool > 1 else []
        body += _conv_stack(channels, list(self.convs))
        body.append(nn.Flatten())
        trunk = nn.Sequential(*body)
        with torch.no_grad():
            flat = trunk(torch.zeros(1, *observation_space.shape)).shape[1]
        head: list[nn.Module] = []
        size = flat
        for units in self.dense:
            head += [nn.Linear(size, units), nn.ReLU()]
            size = units
        super().__init__(observation_space, features_dim=size)
        self.net = nn.Sequential(trunk, *head)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.net(observations)


class LightCNN(CameraCNN):
    """racerl's default: 2x2 average pool, 16@8/4, 32@4/2, dense 256."""

    pool = 2
    convs = ((16, 8, 4), (32, 4, 2))
    dense = (256,)


class ShallowCNN(CameraCNN):
    """DeepRacer's 3-layer CNN (DEEP_CONVOLUTIONAL_NETWORK_SHALLOW) with its 512 middleware."""

    convs = ((32, 8, 4), (64, 4, 2), (64, 3, 1))
    dense = (512,)


class StandardCNN(CameraCNN):
    """DeepRacer's 5-layer CNN (DEEP_CONVOLUTIONAL_NETWORK): 4 convolutions, dense 64, 512."""

    convs = ((32, 5, 2), (32, 3, 1), (64, 3, 2), (64, 3, 1))
    dense = (64, 512)


EXTRACTORS = {"light": LightCNN, "shallow": ShallowCNN, "standard": StandardCNN}

def policy_setup(network: str, mlp_layers: list[int]) -> tuple[str, dict]:
    """SB3 policy name and policy_kwargs for a network name of the config (``mlp_layers``:
    the config's hidden widths of 'mlp', for the policy and value networks alike)."""
    if network == "mlp":
        return "MlpPolicy", {"net_arch": list(mlp_layers)}
    return "CnnPolicy", {"features_extractor_class": EXTRACTORS[network], "net_arch": []}
