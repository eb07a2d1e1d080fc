"""PyTorch's own examples/mnist recipe, the twin of examples/mnist_pytorch.ts, for the numbers beside it.

    /usr/bin/python3 scripts/mnist_pytorch_torch.py --data DIR [--epochs 1] [--threads 2]

Conv2d(1, 32, 3) -> ReLU -> Conv2d(32, 64, 3) -> ReLU -> MaxPool2d(2) -> Dropout(0.25) -> Linear(9216, 128)
-> ReLU -> Dropout(0.5) -> Linear(128, 10) -> log_softmax, NLL loss, Adadelta lr 1.0, StepLR gamma 0.7,
batch 64, seed 1, as pytorch/examples mnist/main.py. The data are the IDX files in DIR (raw or .gz),
normalized with mean 0.1307 and std 0.3081 and shuffled each epoch, like torchvision's MNIST with a
shuffling DataLoader. Prints one line per epoch (test loss, accuracy, train seconds) and a JSON line.
"""
import argparse
import gzip
import json
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv2(F.relu(self.conv1(x))))
        x = self.dropout1(F.max_pool2d(x, 2))
        x = self.dropout2(F.relu(self.fc1(torch.flatten(x, 1))))
        return F.log_softmax(self.fc2(x), dim=1)


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def find(d, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(d, name)):
            return os.path.join(d, name)
    raise SystemExit(f"mnist_pytorch_torch: {stem} not found in {d}")


def load(d, prefix):
    x = read_idx(find(d, f"{prefix}-images-idx3-ubyte")).float().div(255).sub(0.1307).div(0.3081).unsqueeze(1)
    y = read_idx(find(d, f"{prefix}-labels-idx1-ubyte")).long()
    return x, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch-size", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    xtr, ytr = load(a.data, "train")
    xte, yte = load(a.data, "t10k")
    model = Net()
    opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    results = []
    for epoch in range(1, a.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        order = torch.randperm(len(xtr))
        for i in range(0, len(xtr), a.batch_size):
            idx = order[i:i + a.batch_size]
            opt.zero_grad()
            loss = F.nll_loss(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
        seconds = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            out = torch.cat([model(xte[i:i + 1000]) for i in range(0, len(xte), 1000)])
            test_loss = F.nll_loss(out, yte, reduction="sum").item() / len(xte)
            correct = out.argmax(1).eq(yte).sum().item()
        sched.step()
        print(f"Epoch {epoch}: test loss {test_loss:.4f}, accuracy {correct}/{len(xte)} "
              f"({100 * correct / len(xte):.2f}%), train {seconds:.1f} s ({len(xtr) / seconds:.0f} samples/s)")
        results.append({"epoch": epoch, "accuracy": 100 * correct / len(xte), "seconds": seconds})
    print(json.dumps({"torch": torch.__version__, "threads": a.threads, "epochs": results}))


if __name__ == "__main__":
    main()
