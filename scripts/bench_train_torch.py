"""Training throughput of the seed's network in PyTorch: the twin of scripts/bench_train.ts.

    python3 scripts/bench_train_torch.py --data DIR [--threads N] [--device cpu|cuda]
        [--batch-sizes 10,64,256] [--samples 10000] [--warmup 20]

The same model, loss, optimizer and loop as the seed (Conv2d(1, 16, 3, padding 1) -> ReLU ->
MaxPool2d(2) -> Linear(3136, 10), cross-entropy, Adadelta lr 1.0), on real MNIST from the IDX
files in DIR (train-images-idx3-ubyte and train-labels-idx1-ubyte, raw or .gz). The images are
normalized once into one tensor (mean 0.1307, std 0.3081) and batches are drawn from a seeded
permutation, so no DataLoader time is counted, as in the TypeScript and TensorFlow.js twins.
Each timed window runs `steps` steps after `warmup` steps and ends with a synchronize
(loss.item(); torch.cuda.synchronize() on a GPU). Prints one JSON line per batch size.
"""
import argparse
import gzip
import json
import os
import platform
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from bench_kernels_torch import loaded_blas  # a sibling script: the same check of which BLAS is loaded


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, padding=1)
        self.maxpool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 14 * 14, 10)

    def forward(self, x):
        x = self.maxpool(F.relu(self.conv1(x)))
        return self.fc(torch.flatten(x, 1))


def read_idx(path):
    """The payload of an IDX file (raw or .gz) as bytes, after checking its header."""
    for candidate in (path, path + ".gz"):
        if os.path.exists(candidate):
            opener = gzip.open if candidate.endswith(".gz") else open
            with opener(candidate, "rb") as f:
                data = f.read()
            ndim = data[3]
            dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
            payload = data[4 + 4 * ndim:]
            count = 1
            for d in dims:
                count *= d
            if len(payload) != count:
                sys.exit(f"bench_train_torch: {candidate} holds {len(payload)} bytes, expected {count} for {dims}")
            return payload, dims
    sys.exit(f"bench_train_torch: {path} (or .gz) not found")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="folder with the MNIST training IDX files")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (CPU)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--batch-sizes", default="10,64,256")
    p.add_argument("--samples", type=int, default=10000, help="samples per timed window (steps = samples / batch)")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps before each window")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("bench_train_torch: --device cuda but torch.cuda.is_available() is False")
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)

    images, dims = read_idx(os.path.join(a.data, "train-images-idx3-ubyte"))
    labels, _ = read_idx(os.path.join(a.data, "train-labels-idx1-ubyte"))
    n = dims[0]
    x_all = torch.frombuffer(bytearray(images), dtype=torch.uint8).reshape(n, 1, 28, 28).float().div_(255)
    x_all = x_all.sub_(0.1307).div_(0.3081).to(dev)
    y_all = torch.frombuffer(bytearray(labels), dtype=torch.uint8).long().to(dev)

    notes = f"python {platform.python_version()}, BLAS {loaded_blas()}"
    if os.environ.get("LD_PRELOAD"):
        notes += f", LD_PRELOAD={os.environ['LD_PRELOAD']}"
    for bs in [int(b) for b in a.batch_sizes.split(",")]:
        torch.manual_seed(a.seed)
        model = Net().to(dev)
        opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
        steps = max(1, -(-a.samples // bs))
        order = torch.randperm(n, device=dev)

        def step(i):
            idx = order[(i * bs) % (n - bs + 1):][:bs]
            opt.zero_grad()
            loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
            loss.backward()
            opt.step()
            return loss

        for i in range(a.warmup):
            step(i)
        if a.device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(a.warmup, a.warmup + steps):
            loss = step(i)
        last = loss.item()
        if a.device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        print(json.dumps({
            "system": f"PyTorch {torch.__version__.split('+')[0]} {a.device}",
            "threads": a.threads if a.device == "cpu" else None,
            "batchSize": bs,
            "steps": steps,
            "seconds": seconds,
            "samplesPerSec": steps * bs / seconds,
            "lastLoss": last,
            "notes": notes,
        }), flush=True)


if __name__ == "__main__":
    main()
