"""Networks for the camera (and a lidar beside it), as stable-baselines3 feature extractors.

``shallow`` and ``standard`` are DeepRacer's "3-layer" and "5-layer" CNNs (reference
section 6: valid convolutions, ReLU after every layer, the image scaled to [0, 1]).
``light`` is ours: a 2x2 average pooling *inside* the network, then two convolutions and
a dense layer. It still reads the whole 160x120 frame but costs about 25x less compute than
the 3-layer CNN, which is what makes a first lap in minutes possible on a 2-core CPU
(see shared peer figures: ~13,500 vs ~550 training frames/s).

SB3 hands the extractors channel-first float images, divided by 255 unless the policy says
``normalize_images=False``: racerl's light network then scales inside its pooling, a pass over
a quarter of the pixels instead of all of them. Every extractor computes in torch's
channels-last layout, whose convolution kernels (oneDNN) run the updates about twice as fast
on a CPU as the default layout; the weights and what they compute are the same.
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


class ScaledAvgPool2d(nn.AvgPool2d):
    """Average pooling that also scales the result: camera bytes to [0, 1] in the same pass.

    Parameter-free like :class:`nn.AvgPool2d`, so it takes its place (and its index in the
    saved weights) unchanged; exported to ONNX as AveragePool then Mul.
    """

    def __init__(self, kernel_size: int, scale: float):
        super().__init__(kernel_size)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) * self.scale


class CameraCNN(BaseFeaturesExtractor):
    """Convolutions, flatten, then dense layers; the layout is given by class attributes.

    ``scale_inside``: the observations arrive as raw 0-255 values (the policy was built
    with ``normalize_images=False``) and the pooling divides by 255; only networks that pool
    can do that.
    """

    pool: int = 1
    convs: tuple[tuple[int, int, int], ...] = ()
    dense: tuple[int, ...] = ()

    def __init__(self, observation_space: gym.spaces.Box, scale_inside: bool = False):
        channels = observation_space.shape[0]
        if scale_inside and self.pool == 1:
            raise ValueError(f"{type(self).__name__} does not pool: SB3 must scale its input")
        body: list[nn.Module] = []
        if self.pool > 1:
            body.append(ScaledAvgPool2d(self.pool, 1 / 255) if scale_inside
                        else nn.AvgPool2d(self.pool))
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
        trunk, head = self.net[0], self.net[1:]
        layers = iter(trunk)
        x = observations
        if self.pool > 1:  # pooling is faster in the default layout: pool first
            x = next(layers)(x)
        # .to, not .contiguous: a one-channel tensor counts as contiguous in both layouts,
        # and oneDNN picks its kernels by the strides, which only .to changes.
        x = x.to(memory_format=torch.channels_last)
        for layer in layers:
            x = layer(x)
        return head(x)

    def train(self, mode: bool = True) -> CameraCNN:
        """Also moves the convolution weights to the channels-last layout (once).

        Not in ``__init__``: SB3 initialises the weights after building the extractor, with
        views that need the default layout. SB3 calls ``train``/``eval`` before every
        rollout and update, so this runs before the first forward pass; the parameters stay
        the same objects (the optimiser keeps them), only their memory layout changes.
        """
        for module in self.modules():
            if isinstance(module, nn.Conv2d) and module.weight.stride(1) != 1:
                module.weight.data = module.weight.data.to(memory_format=torch.channels_last)
        return super().train(mode)


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
LIDAR_EMBEDDER = (256, 256)
"""DeepRacer's lidar embedder: two dense layers, no convolutions, whatever the network
(simapp markov/sensors/utils.py get_lidar_embedders)."""


class SensorsExtractor(BaseFeaturesExtractor):
    """A camera and a lidar: one embedder per sensor, their features concatenated
    (DeepRacer's multi-input network, simapp markov/architecture/embedder_factory.py).

    The camera's image goes through the config's CNN (:data:`EXTRACTORS`), the lidar's
    vector through :data:`LIDAR_EMBEDDER` (dense 256, 256, ReLU). DeepRacer puts its dense
    middleware (512) after the concatenation; racerl's CNNs carry that layer on the camera's
    side, so here it sees the image's features only.
    """

    def __init__(self, observation_space: gym.spaces.Dict, camera: str, lidar: str,
                 network: str = "light", scale_inside: bool = False):
        image = EXTRACTORS[network](observation_space[camera], scale_inside=scale_inside)
        lidar_size = int(observation_space[lidar].shape[0])
        layers: list[nn.Module] = []
        size = lidar_size
        for units in LIDAR_EMBEDDER:
            layers += [nn.Linear(size, units), nn.ReLU()]
            size = units
        super().__init__(observation_space, features_dim=image.features_dim + size)
        self.camera_key, self.lidar_key = camera, lidar
        self.camera = image
        self.lidar = nn.Sequential(*layers)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([self.camera(observations[self.camera_key]),
                          self.lidar(observations[self.lidar_key])], dim=1)

def policy_setup(network: str, mlp_layers: list[int], camera: str | None = None,
                 lidar: str | None = None) -> tuple[str, dict]:
    """SB3 policy name and policy_kwargs for a network name of the config (``mlp_layers``:
    the config's hidden widths of 'mlp', for the policy and value networks alike).
    With a ``lidar`` the observation is a dict of the ``camera``'s image and the lidar's
    vector, read by :class:`SensorsExtractor`; a stereo camera is an image of two
    channels, read by the CNN as any image."""
    if network == "mlp":
        return "MlpPolicy", {"net_arch": list(mlp_layers)}
    extractor = EXTRACTORS[network]
    scale_inside = extractor.pool > 1  # the network scales the bytes itself, after pooling
    if lidar is not None:
        kwargs = {"features_extractor_class": SensorsExtractor, "net_arch": [],
                  "normalize_images": not scale_inside,
                  "features_extractor_kwargs": {"camera": camera, "lidar": lidar,
                                                "network": network,
                                                "scale_inside": scale_inside}}
        return "MultiInputPolicy", kwargs
    kwargs = {"features_extractor_class": extractor, "net_arch": []}
    if scale_inside:
        kwargs |= {"normalize_images": False, "features_extractor_kwargs": {"scale_inside": True}}
    return "CnnPolicy", kwargs
