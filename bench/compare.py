"""minitorch against PyTorch on the same machine, interleaved: seconds per training epoch of the
workshop's mlp (batch 64, 128, 256; SGD lr 0.05, momentum 0.9), of the cnn and of the resnet
(`mnist_mlp --arch resnet`; both batch 64, Adam lr 1e-3), inference latency (batch 1 and 64), and peak resident memory of a training run; and the
floor: the least time an epoch's products (or a batch-64 forward's) can take at the speed of a large GEMM on this machine
(2048³, timed with minitorch's kernels and with PyTorch's, the faster counting). Run through
bench/compare.sh.

The machine's speed drifts by up to ~2x over minutes, so every measurement alternates between the
two, and medians are compared.
"""
import argparse, os, re, statistics, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST_MLP = os.path.join(ROOT, "target", "release", "examples", "mnist_mlp")
LATENCY = os.path.join(ROOT, "target", "release", "examples", "latency")
PYTORCH = [sys.executable, os.path.join(ROOT, "bench", "pytorch_mnist.py")]


def run(command):
    """Runs a command; returns its stdout and its peak resident memory in MB."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        sys.exit(f"failed: {' '.join(command)}")
    return output, usage.ru_maxrss / 1024


# Multiply-adds per training sample (forward, weight gradients, and input gradients of every layer
# but the first), times 2 FLOP, times the 48,000 training images of an epoch.
MLP_EPOCH_FLOP = 2 * (3 * (784 * 512 + 512 * 256 + 256 * 10) - 784 * 512) * 48_000
CNN_FORWARD = 32 * 24 * 24 * 25 + 64 * 8 * 8 * 800 + 1024 * 128 + 128 * 10
CNN_EPOCH_FLOP = 2 * (3 * CNN_FORWARD - 32 * 24 * 24 * 25) * 48_000
# The resnet: output positions × output channels × (input channels · kernel²) per convolution.
RESNET_STEM = 16 * 28 * 28 * 9
RESNET_FORWARD = (RESNET_STEM + 2 * 16 * 28 * 28 * 144
                  + 32 * 14 * 14 * (144 + 288 + 16) + 64 * 7 * 7 * (288 + 576 + 32) + 64 * 10)
RESNET_EPOCH_FLOP = 2 * (3 * RESNET_FORWARD - RESNET_STEM) * 48_000
# The mlp's forward on a batch of 64 (its floor is printed in µs). A single sample's forward
# is bound by reading the weights, not by products, so it has no such floor.
INFERENCE_64_FLOP = 2 * (784 * 512 + 512 * 256 + 256 * 10) * 64


def cpu_model():
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def torch_gemm_gflops():
    """PyTorch's 2048³ GEMM on 2 threads: the median of 7 after 2 warm-ups."""
    import time, torch
    torch.set_num_threads(2)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    times = []
    for _ in range(9):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    return 2 * 2048**3 / statistics.median(times[2:]) / 1e9


def epoch_seconds(output):
    return [float(s) for s in re.findall(r"\bseconds=([0-9.]+)", output)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3, help="alternations per measurement")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per training run")
    parser.add_argument("--batches", default="64,128,256")
    parser.add_argument("--cnn-epochs", type=int, default=1, help="epochs per cnn run (0 skips the cnn)")
    parser.add_argument("--resnet-epochs", type=int, default=1, help="epochs per resnet run (0 skips it)")
    a = parser.parse_args()

    rows = []
    for batch in [int(b) for b in a.batches.split(",")]:
        seconds = {"pytorch": [], "minitorch": []}
        memory = {"pytorch": [], "minitorch": []}
        for _ in range(a.rounds):
            common = ["--epochs", str(a.epochs), "--batch-size", str(batch)]
            output, rss = run(PYTORCH + ["train", "--arch", "mlp", "--threads", "2"] + common)
            seconds["pytorch"] += epoch_seconds(output)
            memory["pytorch"].append(rss)
            output, rss = run([MNIST_MLP, "--arch", "mlp", "--out", os.path.join(ROOT, "runs", "bench")] + common)
            seconds["minitorch"] += epoch_seconds(output)
            memory["minitorch"].append(rss)
        torch_s, ours_s = statistics.median(seconds["pytorch"]), statistics.median(seconds["minitorch"])
        rows.append((f"training, batch {batch} (s/epoch)", torch_s, ours_s))
        if batch == 64:
            rows.append(("peak RSS of a training run (MB)", max(memory["pytorch"]), max(memory["minitorch"])))

    if a.cnn_epochs > 0:
        seconds = {"pytorch": [], "minitorch": []}
        for _ in range(a.rounds):
            common = ["--epochs", str(a.cnn_epochs), "--batch-size", "64"]
            output, _ = run(PYTORCH + ["train", "--arch", "cnn", "--opt", "adam", "--threads", "2"] + common)
            seconds["pytorch"] += epoch_seconds(output)
            output, _ = run([MNIST_MLP, "--arch", "cnn", "--optimizer", "adam", "--out",
                             os.path.join(ROOT, "runs", "bench-cnn")] + common)
            seconds["minitorch"] += epoch_seconds(output)
        rows.append(("training cnn, batch 64, Adam (s/epoch)", statistics.median(seconds["pytorch"]),
                     statistics.median(seconds["minitorch"])))

    if a.resnet_epochs > 0:
        seconds = {"pytorch": [], "minitorch": []}
        for _ in range(a.rounds):
            common = ["--epochs", str(a.resnet_epochs), "--batch-size", "64"]
            output, _ = run(PYTORCH + ["train", "--arch", "resnet", "--opt", "adam", "--threads", "2"] + common)
            seconds["pytorch"] += epoch_seconds(output)
            output, _ = run([MNIST_MLP, "--arch", "resnet", "--optimizer", "adam", "--schedule", "constant", "--shift", "0",
                             "--out", os.path.join(ROOT, "runs", "bench-resnet")] + common)
            seconds["minitorch"] += epoch_seconds(output)
        rows.append(("training resnet, batch 64, Adam (s/epoch)", statistics.median(seconds["pytorch"]),
                     statistics.median(seconds["minitorch"])))

    latency = {"pytorch": {}, "minitorch": {}}
    gemm = {"pytorch": [], "minitorch": []}
    for _ in range(a.rounds):
        for side, command in (("pytorch", PYTORCH + ["latency", "--threads", "2"]), ("minitorch", [LATENCY])):
            output, _ = run(command)
            for batch, us in re.findall(r"batch=(\d+) median_us=([0-9.]+)", output):
                latency[side].setdefault(int(batch), []).append(float(us))
            gemm[side] += [float(g) for g in re.findall(r"gemm_2048 gflops=([0-9.]+)", output)]
        gemm["pytorch"].append(torch_gemm_gflops())
    for batch in (1, 64):
        rows.append((f"inference, batch {batch} (µs)", statistics.median(latency["pytorch"][batch]),
                     statistics.median(latency["minitorch"][batch])))

    import torch
    ours_gflops, torch_gflops = statistics.median(gemm["minitorch"]), statistics.median(gemm["pytorch"])
    best = max(ours_gflops, torch_gflops) * 1e9
    print(f"{cpu_model()}, {os.cpu_count()} cores; PyTorch {torch.__version__}; {a.rounds} interleaved "
          f"rounds, {a.epochs} epochs per mlp training run\n")
    print("| measure | PyTorch | minitorch | minitorch / PyTorch | floor | minitorch / floor |")
    print("|---|---|---|---|---|---|")
    for name, torch_value, ours in rows:
        flop = (MLP_EPOCH_FLOP if name.startswith("training, batch") else CNN_EPOCH_FLOP if "cnn" in name
                else RESNET_EPOCH_FLOP if "resnet" in name else INFERENCE_64_FLOP * 1e6 if "batch 64 (µs)" in name
                else None)
        floor = f"{flop / best:.3g} | {ours / (flop / best):.2f}" if flop else "– | –"
        print(f"| {name} | {torch_value:.3g} | {ours:.3g} | {ours / torch_value:.2f} | {floor} |")
    print(f"\nFloor: an epoch's products (mlp {MLP_EPOCH_FLOP / 1e9:.1f} GFLOP, cnn "
          f"{CNN_EPOCH_FLOP / 1e9:.0f} GFLOP, resnet {RESNET_EPOCH_FLOP / 1e9:.0f} GFLOP; batch-64 inference "
          f"{INFERENCE_64_FLOP / 1e6:.1f} MFLOP) at the faster 2048³ GEMM on 2 cores: minitorch's kernels "
          f"{ours_gflops:.0f} GFLOP/s, PyTorch's {torch_gflops:.0f} GFLOP/s.")


if __name__ == "__main__":
    main()
