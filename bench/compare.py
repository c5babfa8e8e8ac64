"""minitorch against PyTorch on the same machine, interleaved: seconds per training epoch of the
workshop's mlp (batch 64, 128, 256; SGD lr 0.05, momentum 0.9) and of the cnn (batch 64, Adam lr
1e-3), inference latency (batch 1 and 64), and peak resident memory of a training run. Run
through bench/compare.sh.

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


def epoch_seconds(output):
    return [float(s) for s in re.findall(r"\bseconds=([0-9.]+)", output)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3, help="alternations per measurement")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per training run")
    parser.add_argument("--batches", default="64,128,256")
    parser.add_argument("--cnn-epochs", type=int, default=1, help="epochs per cnn run (0 skips the cnn)")
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

    latency = {"pytorch": {}, "minitorch": {}}
    for _ in range(a.rounds):
        for side, command in (("pytorch", PYTORCH + ["latency", "--threads", "2"]), ("minitorch", [LATENCY])):
            output, _ = run(command)
            for batch, us in re.findall(r"batch=(\d+) median_us=([0-9.]+)", output):
                latency[side].setdefault(int(batch), []).append(float(us))
    for batch in (1, 64):
        rows.append((f"inference, batch {batch} (µs)", statistics.median(latency["pytorch"][batch]),
                     statistics.median(latency["minitorch"][batch])))

    import torch
    print(f"PyTorch {torch.__version__}, {os.cpu_count()} cores, {a.rounds} interleaved rounds, "
          f"{a.epochs} epochs per training run\n")
    print("| measure | PyTorch | minitorch | minitorch / PyTorch |")
    print("|---|---|---|---|")
    for name, torch_value, ours in rows:
        print(f"| {name} | {torch_value:.3g} | {ours:.3g} | {ours / torch_value:.2f} |")


if __name__ == "__main__":
    main()
