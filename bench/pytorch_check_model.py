"""Loads a minitorch `mlp`, `cnn` or `resnet` checkpoint into PyTorch and compares predictions.

Run from the repo root: bench/.venv/bin/python bench/pytorch_check_model.py MODEL PREDICTIONS_CSV [mlp|cnn|resnet]
where PREDICTIONS_CSV comes from `mnist_mlp --arch ARCH --predict data/mnist/t10k-images-idx3-ubyte.gz
--model MODEL`. Loads MODEL with `load_state_dict(strict=True)` into the same `nn.Sequential`, classifies
the 10,000 MNIST test images normalised as minitorch does (the statistics of the training file),
and prints PyTorch's test accuracy and how many predictions differ from minitorch's. The resnet is
built from the `Residual` module README gives a PyTorch user.
"""
import gzip
import sys

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class Residual(nn.Module):
    """minitorch's Residual(body… ; shortcut: …): body(x) + x, or body(x) + shortcut(x)."""
    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body = body              # an nn.Sequential: tensors i.body.j.*
        self.shortcut = shortcut      # an nn.Sequential (i.shortcut.j.*), or None: no tensors

    def forward(self, x):
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))


class Concat(nn.Module):
    """minitorch's Concat(branch… ; …): every branch on x, joined along dimension 1."""
    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)   # nn.Sequential each: tensors i.branches.k.j.*

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)


def basic_block(channels_in, channels_out, stride):
    body = nn.Sequential(nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1),
                         nn.BatchNorm2d(channels_out), nn.ReLU(),
                         nn.Conv2d(channels_out, channels_out, 3, padding=1), nn.BatchNorm2d(channels_out))
    if stride == 1 and channels_in == channels_out:
        return Residual(body)
    return Residual(body, nn.Sequential(nn.Conv2d(channels_in, channels_out, 1, stride=stride),
                                        nn.BatchNorm2d(channels_out)))


model_path, predictions_path = sys.argv[1], sys.argv[2]
arch = sys.argv[3] if len(sys.argv) > 3 else "mlp"
if arch == "resnet":
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                          basic_block(16, 16, 1), nn.ReLU(), basic_block(16, 32, 2), nn.ReLU(),
                          basic_block(32, 64, 2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(64, 10))
elif arch == "cnn":
    model = nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1024, 128), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(128, 10))
else:
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 256), nn.ReLU(),
                          nn.Linear(256, 10))
model.load_state_dict(load_file(model_path), strict=True)
model.eval()
train = idx("data/mnist/train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float64) / 255
mean, std = train.mean(), train.std()
images = (idx("data/mnist/t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255 - mean) / std
labels = idx("data/mnist/t10k-labels-idx1-ubyte.gz")
with torch.no_grad():
    inputs = torch.from_numpy(images.astype(np.float32))
    if arch in ("cnn", "resnet"):
        inputs = inputs.reshape(-1, 1, 28, 28)
    predicted = model(inputs).argmax(1).numpy()
ours = np.loadtxt(predictions_path, delimiter=",", skiprows=1, dtype=np.int64)[:, 1]
print(f"torch {torch.__version__}: strict load ok, test accuracy {(predicted == labels).mean():.4f}, "
      f"{(predicted != ours).sum()} of {len(ours)} predictions differ from minitorch's")
