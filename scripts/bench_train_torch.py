"""Training throughput of the seed's network in PyTorch: the twin of scripts/bench_train.ts.

    python3 scripts/bench_train_torch.py (--data DIR | --synthetic N) [--threads N] [--device cpu|cuda]
        [--modes eager,graph,loader] [--batch-sizes 10,64,256] [--samples 10000] [--warmup 20]

The same model, loss, optimizer and loop as the seed (Conv2d(1, 16, 3, padding 1) -> ReLU ->
MaxPool2d(2) -> Linear(3136, 10), cross-entropy, Adadelta lr 1.0), on real MNIST from the IDX
files in DIR (train-images-idx3-ubyte and train-labels-idx1-ubyte, raw or .gz), or on N random
images with random labels (`--synthetic`: for checking the code paths without data). Modes, one
JSON line per mode and batch size (default: all three on cuda, eager on cpu):

- eager ("PyTorch V DEV"): the images normalized once into one tensor on the device (mean 0.1307,
  std 0.3081); each step gathers its batch from a seeded permutation, then zero_grad, forward,
  cross-entropy, backward, step: no DataLoader time, as in the TypeScript and TensorFlow.js twins.
- graph ("PyTorch V DEV graph"): the same step captured once with torch.cuda.graph and replayed. What
  is captured: the batch gather from a static index tensor (`x_all[static_idx]`, so a step's only
  work outside the graph is one 8*batch-byte device-to-device copy of its indices into
  `static_idx`), forward, cross-entropy and backward into static gradients, and, when this torch's
  Adadelta takes `capturable` (later 2.x releases), the optimizer step too ("whole step" in the
  notes). Adadelta has no `capturable` in 1.13 and 2.0: there the graph holds forward and backward and
  the optimizer runs eagerly after each replay ("forward+backward" in the notes), the closest
  supported split: torch promises a captured optimizer.step() only with capturable=True (without
  it, state such as the step count lives on the host and replays would not advance it). On a CPU there is no capture: the same step body (static indices,
  gradients set to None, the same optimizer split) runs directly each step, labelled
  "graph body, no capture on cpu"; its losses equal the eager mode's, which tests/bench_test.ts checks.
- loader ("PyTorch V DEV DataLoader"): the seed script's path as written: a Dataset whose
  __getitem__ converts one uint8 image (ToTensor: /255) and normalizes it (Normalize), a
  DataLoader(batch_size, shuffle=True) with no workers and no pinned memory, `.to(device)` of each
  batch, and `loss.item()` every 100 batches (the seed's print). torchvision's PIL round trip per
  image is left out, so this row is, if anything, faster than the seed.

Each timed window runs `steps` = ceil(samples / batch) steps after `warmup` steps and ends with a
synchronize (loss.item(); torch.cuda.synchronize() on a GPU). A JSON line holds system, threads,
batchSize, steps, seconds, samplesPerSec, lastLoss (the timed window's last step), mode, notes.
"""
import argparse
import gzip
import inspect
import json
import math
import os
import platform
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from bench_kernels_torch import loaded_blas  # a sibling script: the same check of which BLAS is loaded

MODES = ("eager", "graph", "loader")
MEAN, STD = 0.1307, 0.3081


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, padding=1)
        self.maxpool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 14 * 14, 10)

    def forward(self, x):
        x = self.maxpool(F.relu(self.conv1(x)))
        return self.fc(torch.flatten(x, 1))


class SeedMnist(torch.utils.data.Dataset):
    """The seed's per-sample path without torchvision: ToTensor (uint8 -> float / 255) and Normalize."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels  # uint8 [n, 28, 28], int64 [n]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        img = self.images[i].unsqueeze(0).float().div(255)
        return img.sub_(MEAN).div_(STD), int(self.labels[i])


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


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="folder with the MNIST training IDX files")
    src.add_argument("--synthetic", type=int, metavar="N", help="N random images and labels instead of MNIST")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (CPU)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--modes", help="comma-separated, of eager, graph, loader (default: all on cuda, eager on cpu)")
    p.add_argument("--batch-sizes", default="10,64,256")
    p.add_argument("--samples", type=int, default=10000, help="samples per timed window (steps = samples / batch)")
    p.add_argument("--warmup", type=int, default=20, help="untimed steps before each window")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    modes = (a.modes or ("eager,graph,loader" if a.device == "cuda" else "eager")).split(",")
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        p.error(f"--modes: {', '.join(bad) or 'empty'} not known; expected a comma-separated list of {', '.join(MODES)}")
    a.modes = list(dict.fromkeys(modes))
    try:
        a.batch_sizes = [int(b) for b in a.batch_sizes.split(",")]
    except ValueError:
        p.error(f"--batch-sizes: expected comma-separated integers, got {a.batch_sizes!r}")
    for name, value, low in (("batch-sizes", min(a.batch_sizes), 1), ("samples", a.samples, 1),
                             ("warmup", a.warmup, 0), ("threads", a.threads, 1), ("synthetic", a.synthetic, 1)):
        if value is not None and value < low:
            p.error(f"--{name}: expected an integer >= {low}, got {value}")
    return a


def load(a):
    """uint8 images [n, 28, 28] and int64 labels [n], from the IDX files or random."""
    if a.synthetic is not None:
        g = torch.Generator().manual_seed(a.seed)
        images = torch.randint(0, 256, (a.synthetic, 28, 28), generator=g, dtype=torch.uint8)
        return images, torch.randint(0, 10, (a.synthetic,), generator=g)
    images, dims = read_idx(os.path.join(a.data, "train-images-idx3-ubyte"))
    labels, _ = read_idx(os.path.join(a.data, "train-labels-idx1-ubyte"))
    n = dims[0]
    x = torch.frombuffer(bytearray(images), dtype=torch.uint8).reshape(n, 28, 28)
    return x, torch.frombuffer(bytearray(labels), dtype=torch.uint8).long()


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def adadelta_capturable():
    return "capturable" in inspect.signature(torch.optim.Adadelta.__init__).parameters


def fresh(a, dev, capturable=False):
    torch.manual_seed(a.seed)
    model = Net().to(dev)
    extra = {"capturable": True} if capturable else {}
    return model, torch.optim.Adadelta(model.parameters(), lr=1.0, **extra)


def permutation(a, n, dev):
    return torch.randperm(n, generator=torch.Generator().manual_seed(a.seed)).to(dev)


def batch_start(i, bs, n):
    return (i * bs) % (n - bs + 1)


def timed(dev, step, first, steps):
    """Seconds of steps first .. first + steps - 1 and the last loss, read after the window."""
    sync(dev)
    t0 = time.perf_counter()
    for i in range(first, first + steps):
        loss = step(i)
    last = loss.item()
    sync(dev)
    return time.perf_counter() - t0, last


def run_eager(a, dev, bs, x_all, y_all, steps):
    model, opt = fresh(a, dev)
    n = len(y_all)
    order = permutation(a, n, dev)

    def step(i):
        idx = order[batch_start(i, bs, n):][:bs]
        opt.zero_grad()
        loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
        loss.backward()
        opt.step()
        return loss

    for i in range(a.warmup):
        step(i)
    return (*timed(dev, step, a.warmup, steps), "batches gathered on the device from one tensor")


def run_graph(a, dev, bs, x_all, y_all, steps):
    whole = dev.type == "cuda" and adadelta_capturable()
    model, opt = fresh(a, dev, capturable=whole)
    n = len(y_all)
    order = permutation(a, n, dev)
    static_idx = torch.zeros(bs, dtype=torch.long, device=dev)

    def body():
        # Setting the gradients to None is Python-side: in a capture, backward then writes (not
        # adds) fresh gradients into tensors of the graph's pool, which every replay overwrites.
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x_all[static_idx]), y_all[static_idx])
        loss.backward()
        if whole:
            opt.step()
        return loss

    def eager_step(i):
        static_idx.copy_(order[batch_start(i, bs, n):][:bs])
        loss = body()
        if not whole:
            opt.step()
        return loss

    if dev.type == "cpu":
        for i in range(a.warmup):
            eager_step(i)
        what = "graph body, no capture on cpu (forward+backward, then the optimizer)"
        return (*timed(dev, eager_step, a.warmup, steps), what)

    # Warm-up on a side stream before the capture, as torch.cuda.graphs' documentation does it.
    warm = max(a.warmup, 3)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for i in range(warm):
            eager_step(i)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):  # records kernels, runs none
        static_loss = body()

    def replay(i):
        static_idx.copy_(order[batch_start(i, bs, n):][:bs])
        graph.replay()
        if not whole:
            opt.step()
        return static_loss

    for i in range(warm, warm + 3):  # untimed replays: the first ones upload the graph
        replay(i)
    what = ("whole step captured (gather, forward, backward, capturable Adadelta)" if whole else
            "forward+backward captured (gather included); this torch's Adadelta has no capturable: it runs eagerly")
    return (*timed(dev, replay, warm + 3, steps), what)


def run_loader(a, dev, bs, images, labels, steps):
    model, opt = fresh(a, dev)
    loader = torch.utils.data.DataLoader(SeedMnist(images, labels), batch_size=bs, shuffle=True,
                                         generator=torch.Generator().manual_seed(a.seed))
    batches = iter(loader)
    count = 0

    def step(i):
        nonlocal batches, count
        try:
            data, target = next(batches)
        except StopIteration:
            batches = iter(loader)
            data, target = next(batches)
        data, target = data.to(dev), target.to(dev)
        opt.zero_grad()
        loss = F.cross_entropy(model(data), target)
        loss.backward()
        opt.step()
        if count % 100 == 0:
            loss.item()  # the seed prints the loss every 100 batches
        count += 1
        return loss

    for i in range(a.warmup):
        step(i)
    what = "per-sample Dataset (ToTensor, Normalize) + DataLoader(shuffle=True), .to(device), loss.item() every 100"
    return (*timed(dev, step, a.warmup, steps), what)


def main(argv=None):
    a = parse_args(argv)
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("bench_train_torch: --device cuda but torch.cuda.is_available() is False")
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    images, labels = load(a)
    if len(labels) < max(a.batch_sizes):
        sys.exit(f"bench_train_torch: {len(labels)} samples, fewer than the largest batch size {max(a.batch_sizes)}")
    x_all = images.unsqueeze(1).float().div_(255).sub_(MEAN).div_(STD).to(dev)
    y_all = labels.to(dev)

    version = torch.__version__.split("+")[0]
    notes = f"python {platform.python_version()}, BLAS {loaded_blas()}"
    if a.synthetic is not None:
        notes += f", synthetic data ({a.synthetic} random images)"
    if os.environ.get("LD_PRELOAD"):
        notes += f", LD_PRELOAD={os.environ['LD_PRELOAD']}"
    suffix = {"eager": "", "graph": " graph", "loader": " DataLoader"}
    for bs in a.batch_sizes:
        steps = math.ceil(a.samples / bs)
        for mode in a.modes:
            if mode == "loader":
                seconds, last, what = run_loader(a, dev, bs, images, labels, steps)
            else:
                seconds, last, what = (run_eager if mode == "eager" else run_graph)(a, dev, bs, x_all, y_all, steps)
            print(json.dumps({
                "system": f"PyTorch {version} {a.device}{suffix[mode]}",
                "threads": a.threads if a.device == "cpu" else None,
                "batchSize": bs,
                "steps": steps,
                "seconds": seconds,
                "samplesPerSec": steps * bs / seconds,
                "lastLoss": last,
                "mode": mode,
                "notes": f"{what}; {notes}",
            }), flush=True)


if __name__ == "__main__":
    main()
