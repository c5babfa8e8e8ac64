"""PyTorch reference for the workshop's MNIST workload, to compare against on the same machine.
(From the team's ../shared/bench; bench/compare.py runs it beside minitorch.)

usage:
  python pytorch_mnist.py train   --arch mlp|mlp-bn|base|cnn|pytorch-cnn --batch-size 64 --epochs 10
                                  [--opt momentum|sgd|adam|adamw] [--threads 2]
  python pytorch_mnist.py latency [--threads 1]
  python pytorch_mnist.py gemm    [--threads 2]
Data: the four gzip IDX files in $MNIST_DIR (default: ../data/mnist beside this file).
Split: np.random.RandomState(0).permutation(60000): first 48,000 train, last 12,000 validation.
Optimisers: momentum = SGD(lr=0.05, momentum=0.9); sgd = SGD(lr=0.1); adam = Adam(lr=1e-3);
adamw = AdamW(lr=1e-3, weight_decay=0.01). Default PyTorch init, seed 0.
cnn / pytorch-cnn take the images as [batch, 1, 28, 28] (so their nn.Sequential starts at the first
Conv2d: index 0, as minitorch's names expect); pytorch-cnn is the network of PyTorch's
official MNIST example (pytorch/examples mnist/main.py).
Prints one key=value line per epoch and a final summary line; timings exclude evaluation.
Install: pip install torch numpy   (the PyPI wheel; CPU is used)
Note: this machine's speed drifts over minutes; compare runs made back to back, or interleaved.
"""
import argparse, gzip, os, resource, statistics, struct, time

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
MNIST_DIR = os.environ.get("MNIST_DIR", os.path.join(HERE, "..", "data", "mnist"))
MEAN, STD = 0.1307, 0.3081


def read_idx(name):
    with gzip.open(os.path.join(MNIST_DIR, name + ".gz"), "rb") as f:
        buf = f.read()
    magic, n = struct.unpack(">II", buf[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", buf[8:16])
        return np.frombuffer(buf, np.uint8, offset=16).reshape(n, rows * cols)
    assert magic == 2049, magic
    return np.frombuffer(buf, np.uint8, offset=8)


def load():
    x, y = read_idx("train-images-idx3-ubyte"), read_idx("train-labels-idx1-ubyte")
    xt, yt = read_idx("t10k-images-idx3-ubyte"), read_idx("t10k-labels-idx1-ubyte")
    perm = np.random.RandomState(0).permutation(len(x))
    tr, va = perm[:48000], perm[48000:]
    f = lambda a: torch.from_numpy((a.astype(np.float32) / 255.0 - MEAN) / STD)
    l = lambda a: torch.from_numpy(a.astype(np.int64))
    return f(x[tr]), l(y[tr]), f(x[va]), l(y[va]), f(xt), l(yt)


class Residual(nn.Module):
    """body(x) + x, or body(x) + shortcut(x): minitorch's `Residual(...)` entry (state-dict names i.body.j, i.shortcut.j)."""
    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body = body
        if shortcut is not None:
            self.shortcut = shortcut

    def forward(self, x):
        return self.body(x) + (self.shortcut(x) if hasattr(self, "shortcut") else x)


def basic_block(cin, cout, stride):
    body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout))
    shortcut = None if stride == 1 and cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride), nn.BatchNorm2d(cout))
    return Residual(body, shortcut)


def make_model(arch):
    if arch == "resnet":  # mnist_mlp's `--arch resnet`: 3 stages of one basic block, 16/32/64 channels
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                             basic_block(16, 16, 1), nn.ReLU(), basic_block(16, 32, 2), nn.ReLU(),
                             basic_block(32, 64, 2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    if arch == "base":
        return nn.Sequential(nn.Linear(784, 1024), nn.Linear(1024, 10))
    if arch == "mlp":
        return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
    if arch == "mlp-bn":
        return nn.Sequential(nn.Linear(784, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(512, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 10))
    if arch == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(1024, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))
    if arch == "pytorch-cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
                             nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))
    raise SystemExit(f"unknown arch {arch}")


@torch.inference_mode()
def evaluate(m, x, y):
    m.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(x), 1000):
        out = m(x[i:i + 1000])
        loss += nn.functional.cross_entropy(out, y[i:i + 1000], reduction="sum").item()
        correct += (out.argmax(1) == y[i:i + 1000]).sum().item()
    return loss / len(x), correct / len(x)


def train(a):
    torch.manual_seed(0)
    xtr, ytr, xva, yva, xte, yte = load()
    if "cnn" in a.arch or a.arch == "resnet":  # images as [batch, 1, 28, 28]; the state dict's indices start at the first Conv2d
        xtr, xva, xte = (x.view(-1, 1, 28, 28) for x in (xtr, xva, xte))
    m = make_model(a.arch)
    opt = {"sgd": lambda: torch.optim.SGD(m.parameters(), lr=0.1),
           "momentum": lambda: torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9),
           "adam": lambda: torch.optim.Adam(m.parameters(), lr=1e-3),
           "adamw": lambda: torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.01)}[a.opt]()
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.epochs) if a.schedule == "cosine" else None
    secs = []
    for epoch in range(1, a.epochs + 1):
        m.train()
        t0, total = time.perf_counter(), 0.0
        perm = torch.randperm(len(xtr))
        for i in range(0, len(xtr), a.batch_size):
            idx = perm[i:i + a.batch_size]
            loss = nn.functional.cross_entropy(m(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        secs.append(time.perf_counter() - t0)
        if sched is not None:
            sched.step()
        vl, va = evaluate(m, xva, yva)
        print(f"epoch={epoch} train_loss={total / len(xtr):.4f} val_loss={vl:.4f} "
              f"val_accuracy={va:.4f} seconds={secs[-1]:.3f}", flush=True)
    tl, ta = evaluate(m, xte, yte)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"test_loss={tl:.4f} test_accuracy={ta:.4f} median_epoch_seconds={statistics.median(secs):.3f} "
          f"peak_rss_mb={rss:.0f}")


@torch.inference_mode()
def latency(a):
    torch.manual_seed(0)
    m = make_model("mlp").eval()
    for bs in (1, 64):
        x = torch.randn(bs, 784)
        for _ in range(500):
            m(x)
        ts = []
        for _ in range(5000):
            t0 = time.perf_counter(); m(x); ts.append(time.perf_counter() - t0)
        print(f"batch={bs} median_us={statistics.median(ts) * 1e6:.1f}")


def gemm(a):
    w = torch.randn(784, 512)
    for b in (64, 128, 256):
        x = torch.randn(b, 784)
        for _ in range(50):
            torch.mm(x, w)
        ts = []
        for _ in range(500):
            t0 = time.perf_counter(); torch.mm(x, w); ts.append(time.perf_counter() - t0)
        t = statistics.median(ts)
        print(f"B={b} median_us={t * 1e6:.1f} gflops={2 * b * 784 * 512 / t / 1e9:.1f}")
    x, w = torch.randn(2048, 2048), torch.randn(2048, 2048)  # near the machine's peak
    for _ in range(3):
        torch.mm(x, w)
    t0 = time.perf_counter()
    for _ in range(10):
        torch.mm(x, w)
    print(f"peak_2048 gflops={10 * 2 * 2048 ** 3 / (time.perf_counter() - t0) / 1e9:.1f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["train", "latency", "gemm"])
    ap.add_argument("--arch", default="mlp")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--opt", default="momentum", choices=["momentum", "sgd", "adam", "adamw"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--schedule", default="constant", choices=["constant", "cosine"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    {"train": train, "latency": latency, "gemm": gemm}[a.what](a)
