#!/usr/bin/python3
"""Generate PyTorch reference fixtures for the convnet test suite.

Run with Debian's PyTorch (CPU) interpreter from the repository root:

    /usr/bin/python3 scripts/gen_fixtures.py

It (re)writes, deterministically (fixed seeds, single thread):

  tests/fixtures/ops.json
      Forward outputs and backward gradients of single ops (conv2d,
      max_pool2d, avg_pool2d, sum_pool2d, linear, relu, cross_entropy).
      Each case stores inputs, a random upstream gradient `grad_output`
      (same shape as the output), the output, and the gradient of
      sum(output * grad_output) w.r.t. every float input.
  tests/fixtures/net_adadelta.json, tests/fixtures/net_adadelta_final.bin
      The seed network (conv 1->16 k3 p1, ReLU, maxpool 2, linear 3136->10)
      initialised with torch.manual_seed(1), trained 20 steps with
      Adadelta(lr=1.0) + StepLR(step_size=1, gamma=0.7) stepped every 5
      steps, on uniform_(0,1) inputs drawn from the global generator.
      The .bin holds all final parameters as float32 little-endian,
      concatenated in named_parameters() order.
  tests/fixtures/optim.json
      Isolated optimizer update rules (Adadelta, SGD, Adam variants) over
      6 steps on a [2,3] parameter, plus a StepLR lr sequence.

Tensor format: {"shape": [...], "data": [flat row-major values]}. Float
values are written as the shortest decimal that round-trips the float32.
"""

import hashlib
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "tests", "fixtures")


def f32(v):
    """Shortest decimal that round-trips the float32 value, as a Python float."""
    return float(str(np.float32(v)))


def T(t):
    t = t.detach()
    if t.dtype in (torch.int64, torch.int32):
        data = [int(v) for v in t.reshape(-1).tolist()]
    else:
        data = [f32(v) for v in t.to(torch.float32).reshape(-1).numpy()]
    return {"shape": list(t.shape), "data": data}


def pair(v):
    return list(v) if isinstance(v, (tuple, list)) else [v, v]


def make_case(op, name, options, inputs, fn, seed, grad_output=None):
    float_names = [k for k, v in inputs.items() if v.is_floating_point()]
    inputs = {k: (v.detach().clone().requires_grad_(True) if k in float_names else v)
              for k, v in inputs.items()}
    out = fn(**inputs)
    if grad_output is None:
        g = torch.Generator().manual_seed(seed + 10000)
        grad_output = torch.randn(out.shape, generator=g)
    else:
        grad_output = torch.tensor(grad_output, dtype=torch.float32).reshape(out.shape)
    (out * grad_output).sum().backward()
    return {
        "op": op,
        "name": name,
        "options": options,
        "inputs": {k: T(v) for k, v in inputs.items()},
        "grad_output": T(grad_output),
        "output": T(out),
        "grads": {k: T(inputs[k].grad) for k in float_names},
    }


def gen_ops():
    cases = []
    seed = [0]

    def next_seed():
        seed[0] += 1
        return seed[0]

    # ---- conv2d ----
    conv_cfgs = [
        # name, N, C, H, W, O, kh, kw, stride, padding, dilation, groups, bias
        ("seed layer scaled down k3 s1 p1", 2, 1, 8, 8, 4, 3, 3, 1, 1, 1, 1, True),
        ("stride 2", 2, 2, 8, 8, 3, 3, 3, 2, 0, 1, 1, True),
        ("stride 3 padding 2", 2, 2, 9, 8, 3, 3, 3, 3, 2, 1, 1, True),
        ("dilation 2", 2, 2, 9, 9, 3, 3, 3, 1, 1, 2, 1, True),
        ("groups 2", 2, 4, 6, 6, 6, 3, 3, 1, 1, 1, 2, True),
        ("non-square kernel 2x3 on 7x9 padding [1,0]", 2, 2, 7, 9, 3, 2, 3, 1, (1, 0), 1, 1, True),
        ("batch 1", 1, 3, 6, 6, 2, 3, 3, 1, 1, 1, 1, True),
        ("no bias", 2, 2, 6, 6, 3, 3, 3, 1, 1, 1, 1, False),
        ("odd sizes 5x7 k3 stride [2,1]", 3, 3, 5, 7, 5, 3, 3, (2, 1), (0, 1), 1, 1, True),
        ("1x1 kernel", 2, 3, 5, 5, 4, 1, 1, 1, 0, 1, 1, True),
    ]
    for (name, N, C, H, W, O, kh, kw, s, p, d, grp, bias) in conv_cfgs:
        k = next_seed()
        torch.manual_seed(k)
        x = torch.randn(N, C, H, W)
        w = torch.randn(O, C // grp, kh, kw)
        inputs = {"x": x, "w": w}
        if bias:
            inputs["b"] = torch.randn(O)
        opts = {"stride": pair(s), "padding": pair(p), "dilation": pair(d), "groups": grp}

        def fn(x, w, b=None, s=s, p=p, d=d, grp=grp):
            return F.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=grp)

        cases.append(make_case("conv2d", name, opts, inputs, fn, k))

    # ---- pooling ----
    pool_cfgs = [
        # name, N, C, H, W, kernel, stride (None -> default = kernel), padding
        ("kernel 2 stride 2", 2, 2, 8, 8, 2, 2, 0),
        ("kernel 3 stride 2 padding 1", 2, 2, 7, 7, 3, 2, 1),
        ("non-square kernel [2,3] stride [1,2]", 2, 2, 6, 7, (2, 3), (1, 2), 0),
        ("odd input 7x5 kernel 2 stride 2", 2, 3, 7, 5, 2, 2, 0),
        ("stride defaults to kernel (3)", 2, 2, 7, 8, 3, None, 0),
        ("overlapping kernel 3 stride 1", 2, 2, 6, 6, 3, 1, 0),
        ("kernel [3,2] stride [2,1] padding [1,0]", 1, 2, 6, 5, (3, 2), (2, 1), (1, 0)),
    ]
    for op in ("max_pool2d", "avg_pool2d", "sum_pool2d"):
        for (name, N, C, H, W, ks, st, pd) in pool_cfgs:
            k = next_seed()
            torch.manual_seed(k)
            x = torch.randn(N, C, H, W)
            opts = {"kernelSize": pair(ks), "padding": pair(pd)}
            if st is not None:
                opts["stride"] = pair(st)

            if op == "max_pool2d":
                def fn(x, ks=ks, st=st, pd=pd):
                    return F.max_pool2d(x, ks, st, pd)
            elif op == "avg_pool2d":
                def fn(x, ks=ks, st=st, pd=pd):
                    return F.avg_pool2d(x, ks, st, pd)  # count_include_pad=True
            else:
                def fn(x, ks=ks, st=st, pd=pd):
                    return F.avg_pool2d(x, ks, st, pd, divisor_override=1)

            cases.append(make_case(op, name, opts, {"x": x}, fn, k))

    # ---- linear ----
    for (name, N, I, O) in [("5x7 -> 3", 5, 7, 3), ("batch 1, 6 -> 4", 1, 6, 4)]:
        k = next_seed()
        torch.manual_seed(k)
        inputs = {"x": torch.randn(N, I), "w": torch.randn(O, I), "b": torch.randn(O)}
        cases.append(make_case("linear", name, {}, inputs,
                               lambda x, w, b: F.linear(x, w, b), k))

    # ---- relu ----
    k = next_seed()
    torch.manual_seed(k)
    cases.append(make_case("relu", "2x3x4x4", {}, {"x": torch.randn(2, 3, 4, 4)},
                           lambda x: F.relu(x), k))

    # ---- cross_entropy (mean reduction) ----
    ce_cfgs = [
        ("N=4 C=10", 4, 10, 1.0, 1.0),
        ("N=4 C=10 grad_output 0.5", 4, 10, 1.0, 0.5),
        ("N=1 C=3", 1, 3, 1.0, 1.0),
        ("large-magnitude logits (+-50)", 5, 6, 50.0, 1.0),
    ]
    for (name, N, C, scale, go) in ce_cfgs:
        k = next_seed()
        torch.manual_seed(k)
        if scale > 1.0:
            logits = (torch.rand(N, C) * 2 - 1) * scale
        else:
            logits = torch.randn(N, C)
        targets = torch.randint(0, C, (N,), dtype=torch.int64)
        cases.append(make_case("cross_entropy", name, {},
                               {"logits": logits, "targets": targets},
                               lambda logits, targets: F.cross_entropy(logits, targets),
                               k, grad_output=go))

    return {"torch": torch.__version__, "cases": cases}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=1, padding=1)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.fc = nn.Linear(16 * 14 * 14, 10)

    def forward(self, x):
        x = self.maxpool(self.relu(self.conv1(x)))
        return self.fc(x.view(x.size(0), -1))


def param_summary(p):
    flat = p.detach().reshape(-1)
    return {
        "shape": list(p.shape),
        "sum": float(p.detach().double().sum()),
        "first": [f32(v) for v in flat[:8].numpy()],
    }


def check_uniform_is_mt19937():
    torch.manual_seed(0)
    t = torch.empty(5).uniform_(0, 1).numpy()
    raw = np.random.RandomState(0).randint(0, 2**32, size=5, dtype=np.uint64)
    ref = ((raw & 0xFFFFFF).astype(np.float64) / 2**24).astype(np.float32)
    assert np.array_equal(t, ref), (t, ref)


def gen_net():
    check_uniform_is_mt19937()
    steps, batch, epoch_steps = 20, 10, 5
    torch.manual_seed(1)
    model = Net()
    init = {name: param_summary(p) for name, p in model.named_parameters()}
    criterion = nn.CrossEntropyLoss()
    opt = optim.Adadelta(model.parameters(), lr=1.0)
    sched = StepLR(opt, step_size=1, gamma=0.7)
    losses, lrs = [], []
    for step in range(steps):
        x = torch.empty(batch, 1, 28, 28).uniform_(0, 1)
        x = (x - 0.1307) / 0.3081
        target = torch.tensor([(step * 10 + i) * 7 % 10 for i in range(batch)])
        lr_used = opt.param_groups[0]["lr"]
        opt.zero_grad()
        loss = criterion(model(x), target)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
        lrs.append(float(lr_used))
        if (step + 1) % epoch_steps == 0:
            sched.step()

    params, chunks, offset = [], [], 0
    for name, p in model.named_parameters():
        s = param_summary(p)
        params.append({"name": name, "shape": s["shape"], "offset": offset,
                       "sum": s["sum"], "first": s["first"]})
        arr = p.detach().reshape(-1).numpy().astype("<f4")
        chunks.append(arr.tobytes())
        offset += arr.size
    meta = {
        "torch": torch.__version__,
        "seed": 1,
        "steps": steps,
        "batch": batch,
        "epoch_steps": epoch_steps,
        "init": init,
        "losses": losses,
        "lrs": lrs,
        "final": {"file": "net_adadelta_final.bin", "params": params},
    }
    return meta, b"".join(chunks)


def gen_optim():
    cfgs = [
        ("Adadelta", {"lr": 1.0}, {"lr": 1.0}),
        ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1),
         {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weightDecay": 0.1}),
        ("SGD", dict(lr=0.1), {"lr": 0.1}),
        ("SGD", dict(lr=0.1, momentum=0.9), {"lr": 0.1, "momentum": 0.9}),
        ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
         {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weightDecay": 0.01}),
        ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True),
         {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
        ("Adam", dict(lr=0.01), {"lr": 0.01}),
        ("Adam", dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1),
         {"lr": 0.01, "betas": [0.8, 0.9], "eps": 1e-6, "weightDecay": 0.1}),
        ("Adam", dict(lr=0.01, amsgrad=True), {"lr": 0.01, "amsgrad": True}),
    ]
    classes = {"Adadelta": optim.Adadelta, "SGD": optim.SGD, "Adam": optim.Adam}
    out = []
    for i, (name, kwargs, opts) in enumerate(cfgs):
        torch.manual_seed(500 + i)
        p0 = torch.randn(2, 3)
        grads = [torch.randn(2, 3) for _ in range(6)]
        p = nn.Parameter(p0.clone())
        opt = classes[name]([p], **kwargs)
        params = []
        for g in grads:
            p.grad = g.clone()
            opt.step()
            params.append(T(p))
        out.append({"optimizer": name, "options": opts, "p0": T(p0),
                    "grads": [T(g) for g in grads], "params": params})

    p = nn.Parameter(torch.zeros(1))
    opt = optim.SGD([p], lr=1.0)
    sched = StepLR(opt, step_size=2, gamma=0.5)
    last = []
    for _ in range(7):
        opt.step()
        sched.step()
        last.append(float(sched.get_last_lr()[0]))
    return {"torch": torch.__version__, "configs": out,
            "step_lr": {"lr": 1.0, "stepSize": 2, "gamma": 0.5, "last_lrs": last}}


def write_json(name, obj):
    path = os.path.join(OUT_DIR, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    return path


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    written = [write_json("ops.json", gen_ops())]
    meta, blob = gen_net()
    written.append(write_json("net_adadelta.json", meta))
    bin_path = os.path.join(OUT_DIR, "net_adadelta_final.bin")
    with open(bin_path, "wb") as f:
        f.write(blob)
    written.append(bin_path)
    written.append(write_json("optim.json", gen_optim()))
    for path in written:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        print(f"{os.path.relpath(path, ROOT)}  {os.path.getsize(path)} bytes  sha256:{digest}")
    print("losses:", meta["losses"])


if __name__ == "__main__":
    main()
