#!/usr/bin/python3
"""Generate PyTorch reference fixtures for the convnet test suite.

Over 500 lines: the core groups (ops, net, optim, tensor_ops) and the shared case helpers the nn_* group
scripts import, in one place.

Run with Debian's PyTorch (CPU) interpreter from the repository root:

    /usr/bin/python3 scripts/gen_fixtures.py [--only ops|net|optim|tensor_ops]...

It (re)writes (with --only, just the named groups), deterministically (fixed seeds, single thread):

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
  tests/fixtures/tensor_ops.json  (--only tensor_ops)
      Values and gradients of the Tensor API's shape, indexing, reduction,
      elementwise, matmul and creation ops; format in gen_tensor_ops().

Tensor format: {"shape": [...], "data": [flat row-major values]}. Float
values are written as the shortest decimal that round-trips the float32.
"""

import argparse
import hashlib
import importlib
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


def TJ(t):
    """Like T, and integer or bool tensors carry "dtype": "int32" (convnet's integer type)."""
    t = t.detach()
    if t.is_floating_point():
        return T(t)
    return {"shape": list(t.shape), "data": [int(v) for v in t.to(torch.int64).reshape(-1).tolist()],
            "dtype": "int32"}


def make_tensor_op_case(op, name, args, inputs, fn, seed):
    """One tensor_ops.json case: see gen_tensor_ops for the format."""
    float_names = [k for k, v in inputs.items() if v.is_floating_point()]
    leaves = {k: (v.detach().clone().requires_grad_(True) if k in float_names else v)
              for k, v in inputs.items()}
    out = fn(**leaves)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    for o in outs:
        if o.is_floating_point():
            assert torch.isfinite(o).all(), (op, name, "non-finite output")
    case = {
        "op": op,
        "name": name,
        "args": args,
        "inputs": {k: TJ(v) for k, v in inputs.items()},
        "output": [TJ(o) for o in outs] if isinstance(out, (tuple, list)) else TJ(out),
    }
    if not any(o.requires_grad for o in outs):
        return case
    g = torch.Generator().manual_seed(seed + 10000)
    grad_outputs = [torch.randn(o.shape, generator=g) for o in outs]
    sum((o * go).sum() for o, go in zip(outs, grad_outputs)).backward()
    case["grad_output"] = [T(go) for go in grad_outputs] if isinstance(out, (tuple, list)) \
        else T(grad_outputs[0])
    case["grads"] = {k: T(leaves[k].grad if leaves[k].grad is not None else torch.zeros_like(leaves[k]))
                     for k in float_names}
    return case


def gen_tensor_ops():
    """Shape, indexing, reduction, elementwise, matmul and creation ops of convnet's Tensor API.

    Writes {"torch": version, "cases": [case, ...]}, each case:

      op           convnet's name (camelCase): "transpose", "indexSelect", "logSoftmax", "cat"...
      name         what the case covers, unique within its op
      args         the non-tensor arguments in convnet's terms (absent key = argument left out):
                     transpose {dim0, dim1}; permute {dims}; contiguous {transpose?: [d0, d1]}
                     (applied first, so the copy is of a strided view); flatten {startDim?, endDim?};
                     squeeze {dim?}; unsqueeze {dim}; narrow {dim, start, length}; select {dim, index};
                     split {splitSizeOrSections, dim?}; chunk {chunks, dim?}; cat/stack {dim?};
                     indexSelect/gather {dim}; gt/lt/ge/le/ne/eq {other?: number} (absent: input y);
                     clamp {min?, max?}; min/max {dim?, keepDim?}; argmin {dim};
                     sum/mean {dims?: int | [int], keepDim?}; var {dims?, unbiased?, keepDim?};
                     softmax/logSoftmax {dim}; arange {start?, end, step?}; eye {n, m?};
                     randint {seed, high, shape, low?} (torch.manual_seed(seed) then
                     torch.randint(low, high, shape)); add/sub/mul/div {other?: number} (absent: input y);
                     pow {exponent}; view {shape}; argmax {dim}; neg/exp/log/clone {}.
      inputs       named tensors: x (the receiver), y (a comparison's other tensor), a and b (matmul,
                   where), cond (where), index (indexSelect, gather), t0, t1... (cat/stack, in order)
      output       a tensor, or a list of tensors for split and chunk
      grad_output  random upstream gradient(s), shaped like output; only when the output has one
      grads        d sum(output * grad_output) / d input, for every float input; only with grad_output

    Tensor: {"shape": [...], "data": [flat row-major]}, floats as the shortest decimal that
    round-trips the float32; integer tensors (torch int64 or bool) add "dtype": "int32".
    Inputs of min/max/argmin have no ties; sqrt's are positive; abs's are non-zero.
    """
    cases = []
    seed = [20000]

    def add(op, name, args, fn, make_inputs):
        """make_inputs(g) builds the inputs from a case-local generator."""
        seed[0] += 1
        g = torch.Generator().manual_seed(seed[0])
        cases.append(make_tensor_op_case(op, name, args, make_inputs(g), fn, seed[0]))

    def randn(*shape):
        return lambda g: {"x": torch.randn(shape, generator=g)}

    def distinct(*shape):
        """Values without ties: a permutation of 0..n-1, scaled and shifted, plus noise below the gap."""
        def make(g):
            n = int(np.prod(shape)) if shape else 1
            perm = torch.randperm(n, generator=g).to(torch.float32)
            noise = torch.rand(n, generator=g) * 0.1
            return {"x": ((perm + noise) * 0.5 - n * 0.25).reshape(shape)}
        return make

    # ---- shape ops ----
    for name, shape, d0, d1 in [
        ("2-d [3, 5] (0, 1)", (3, 5), 0, 1),
        ("4-d [2, 3, 1, 5] (1, -1)", (2, 3, 1, 5), 1, -1),
        ("3-d [2, 3, 7] (-3, -1)", (2, 3, 7), -3, -1),
        ("same dim is the identity [3, 2] (1, 1)", (3, 2), 1, 1),
        ("1-d [7] (0, -1)", (7,), 0, -1),
    ]:
        add("transpose", name, {"dim0": d0, "dim1": d1},
            lambda x, d0=d0, d1=d1: x.transpose(d0, d1), randn(*shape))

    for name, shape, dims in [
        ("2-d [3, 5] [1, 0]", (3, 5), [1, 0]),
        ("4-d [2, 3, 1, 5] [3, 0, 2, 1]", (2, 3, 1, 5), [3, 0, 2, 1]),
        ("3-d negative dims [-1, -3, -2]", (2, 3, 5), [-1, -3, -2]),
        ("identity [0, 1, 2]", (3, 1, 2), [0, 1, 2]),
        ("rank 0 []", (), []),
    ]:
        add("permute", name, {"dims": dims}, lambda x, dims=dims: x.permute(dims), randn(*shape))

    for name, shape, tr in [
        ("already contiguous [3, 5]", (3, 5), None),
        ("of a transposed [3, 5] view (0, 1)", (3, 5), [0, 1]),
        ("of a transposed [2, 3, 1, 5] view (1, -1)", (2, 3, 1, 5), [1, -1]),
        ("rank 0", (), None),
    ]:
        args = {} if tr is None else {"transpose": tr}
        add("contiguous", name, args,
            (lambda x: x.contiguous()) if tr is None
            else (lambda x, tr=tr: x.transpose(tr[0], tr[1]).contiguous()), randn(*shape))

    for name, shape, args in [
        ("defaults on [2, 3, 1, 5]", (2, 3, 1, 5), {}),
        ("startDim 1 endDim 2 on [2, 3, 1, 5]", (2, 3, 1, 5), {"startDim": 1, "endDim": 2}),
        ("negative dims -3..-2 on [2, 3, 5, 1]", (2, 3, 5, 1), {"startDim": -3, "endDim": -2}),
        ("startDim 1 to the end on [3, 2, 5]", (3, 2, 5), {"startDim": 1}),
        ("startDim equals endDim on [3, 5]", (3, 5), {"startDim": 1, "endDim": 1}),
        ("rank 0 becomes [1]", (), {}),
    ]:
        add("flatten", name, args,
            lambda x, a=args: x.flatten(a.get("startDim", 0), a.get("endDim", -1)), randn(*shape))

    for name, shape, dim in [
        ("all size-1 dims of [1, 3, 1, 5]", (1, 3, 1, 5), None),
        ("dim 2 of [1, 3, 1, 5]", (1, 3, 1, 5), 2),
        ("dim -4 of [1, 3, 1, 5]", (1, 3, 1, 5), -4),
        ("dim of size 3 is left alone", (1, 3, 1, 5), 1),
        ("all of [1, 1] gives rank 0", (1, 1), None),
        ("rank 0", (), None),
    ]:
        add("squeeze", name, {} if dim is None else {"dim": dim},
            (lambda x: x.squeeze()) if dim is None else (lambda x, dim=dim: x.squeeze(dim)), randn(*shape))

    for name, shape, dim in [
        ("dim 0 of [3, 5]", (3, 5), 0),
        ("dim 2 (end) of [3, 5]", (3, 5), 2),
        ("dim -1 of [3, 5]", (3, 5), -1),
        ("dim -4 of [2, 3, 5]", (2, 3, 5), -4),
        ("rank 0 becomes [1]", (), 0),
    ]:
        add("unsqueeze", name, {"dim": dim}, lambda x, dim=dim: x.unsqueeze(dim), randn(*shape))

    for name, shape, dim, start, length in [
        ("dim 0 of [7, 3]", (7, 3), 0, 2, 3),
        ("dim -1 of [2, 3, 7]", (2, 3, 7), -1, 4, 3),
        ("whole dim 1 of [3, 5]", (3, 5), 1, 0, 5),
        ("length 1 at the end of [2, 5, 3]", (2, 5, 3), 1, 4, 1),
    ]:
        add("narrow", name, {"dim": dim, "start": start, "length": length},
            lambda x, d=dim, s=start, n=length: x.narrow(d, s, n), randn(*shape))

    for name, shape, dim, index in [
        ("dim 0 of [5, 3]", (5, 3), 0, 2),
        ("dim -1 of [2, 3, 7]", (2, 3, 7), -1, 6),
        ("dim 1 of [2, 1, 3, 5]", (2, 1, 3, 5), 1, 0),
        ("1-d [7] gives rank 0", (7,), 0, 3),
    ]:
        add("select", name, {"dim": dim, "index": index},
            lambda x, d=dim, i=index: x.select(d, i), randn(*shape))

    for name, shape, sizes, dim in [
        ("size 2 of dim 0 of [6, 3]", (6, 3), 2, None),
        ("size 3 of dim 1 of [2, 7] (last piece 1)", (2, 7), 3, 1),
        ("sizes [1, 4, 2] along -1 of [2, 3, 7]", (2, 3, 7), [1, 4, 2], -1),
        ("size larger than the dim gives one piece", (5, 2), 8, 0),
        ("sizes [3, 2] of 1-d [5]", (5,), [3, 2], None),
    ]:
        args = {"splitSizeOrSections": sizes}
        if dim is not None:
            args["dim"] = dim
        add("split", name, args,
            lambda x, s=sizes, d=dim: x.split(s, 0 if d is None else d), randn(*shape))

    for name, shape, chunks, dim in [
        ("3 even chunks of dim 0 of [6, 2]", (6, 2), 3, None),
        ("3 chunks of 5 (sizes 2, 2, 1) along dim 1", (2, 5, 3), 3, 1),
        ("4 chunks of 6 give 3 pieces of 2", (6,), 4, None),
        ("7 chunks of 7 along -1", (2, 7), 7, -1),
        ("1 chunk", (3, 2), 1, 0),
    ]:
        args = {"chunks": chunks}
        if dim is not None:
            args["dim"] = dim
        add("chunk", name, args,
            lambda x, c=chunks, d=dim: x.chunk(c, 0 if d is None else d), randn(*shape))

    def tensors(*shapes):
        return lambda g: {f"t{i}": torch.randn(s, generator=g) for i, s in enumerate(shapes)}

    def cat_fn(dim):
        return lambda **ts: torch.cat(list(ts.values()), dim)

    for name, shapes, dim in [
        ("dim 0 of [2, 3], [1, 3], [4, 3]", [(2, 3), (1, 3), (4, 3)], None),
        ("dim -1 of [2, 3, 1], [2, 3, 5]", [(2, 3, 1), (2, 3, 5)], -1),
        ("dim 1 of [2, 2, 3], [2, 5, 3], [2, 1, 3]", [(2, 2, 3), (2, 5, 3), (2, 1, 3)], 1),
        ("1-d [3], [7]", [(3,), (7,)], None),
        ("a single tensor", [(3, 2)], 1),
    ]:
        add("cat", name, {} if dim is None else {"dim": dim},
            cat_fn(0 if dim is None else dim), tensors(*shapes))

    def stack_fn(dim):
        return lambda **ts: torch.stack(list(ts.values()), dim)

    for name, shapes, dim in [
        ("dim 0 of three [2, 3]", [(2, 3)] * 3, None),
        ("dim 1 of two [2, 3]", [(2, 3)] * 2, 1),
        ("dim -1 (new last) of two [3, 1, 2]", [(3, 1, 2)] * 2, -1),
        ("rank 0 tensors give [3]", [()] * 3, None),
        ("a single [5]", [(5,)], 0),
    ]:
        add("stack", name, {} if dim is None else {"dim": dim},
            stack_fn(0 if dim is None else dim), tensors(*shapes))

    # ---- indexing ----
    def with_index(shape, index):
        return lambda g: {"x": torch.randn(shape, generator=g),
                          "index": torch.tensor(index, dtype=torch.int64)}

    for name, shape, dim, index in [
        ("dim 0 of [5, 3] with a repeat", (5, 3), 0, [4, 0, 2, 0]),
        ("dim -1 of [2, 3, 7]", (2, 3, 7), -1, [6, 1, 1, 3, 0]),
        ("dim 1 of [2, 5, 3], one index", (2, 5, 3), 1, [3]),
        ("1-d [7]", (7,), 0, [2, 2, 6]),
    ]:
        add("indexSelect", name, {"dim": dim},
            lambda x, index, d=dim: x.index_select(d, index), with_index(shape, index))

    for name, shape, dim, index in [
        ("dim 1 of [3, 5] with repeats", (3, 5), 1, [[0, 4, 4], [2, 2, 1], [3, 0, 4]]),
        ("dim 0 of [3, 4]", (3, 4), 0, [[2, 0, 1, 1], [0, 0, 2, 1]]),
        ("dim -1 of [2, 3, 5], index smaller than x", (2, 3, 5), -1,
         [[[4, 0], [1, 1]], [[3, 2], [0, 4]]]),
        ("1-d [7]", (7,), 0, [6, 0, 3, 3, 1]),
    ]:
        add("gather", name, {"dim": dim},
            lambda x, index, d=dim: torch.gather(x, d, index), with_index(shape, index))

    def where_inputs(cond_shape, a_shape, b_shape):
        def make(g):
            return {"cond": torch.randint(0, 2, cond_shape, generator=g),
                    "a": torch.randn(a_shape, generator=g), "b": torch.randn(b_shape, generator=g)}
        return make

    for name, cs, ash, bs in [
        ("same shapes [3, 4]", (3, 4), (3, 4), (3, 4)),
        ("all three broadcast: cond [3, 1, 4], a [5, 1], b [4]", (3, 1, 4), (5, 1), (4,)),
        ("rank-0 a, b [2, 1], cond [2, 3]", (2, 3), (), (2, 1)),
        ("cond [1, 5] against a, b [3, 5]", (1, 5), (3, 5), (3, 5)),
    ]:
        add("where", name, {}, lambda cond, a, b: torch.where(cond.bool(), a, b), where_inputs(cs, ash, bs))

    def small_ints(x_shape, y_shape=None):
        """Values in {-2..2} so that equal elements occur."""
        def make(g):
            d = {"x": torch.randint(-2, 3, x_shape, generator=g).to(torch.float32)}
            if y_shape is not None:
                d["y"] = torch.randint(-2, 3, y_shape, generator=g).to(torch.float32)
            return d
        return make

    for op in ("gt", "lt", "ge", "le", "ne", "eq"):
        for name, xs, ys, other in [
            ("tensor of the same shape [3, 4]", (3, 4), (3, 4), None),
            ("broadcast tensor: [2, 1, 4] against [3, 1]", (2, 1, 4), (3, 1), None),
            ("number 0", (2, 5), None, 0),
            ("number 0.5", (7,), None, 0.5),
        ]:
            if other is None:
                add(op, name, {}, lambda x, y, op=op: getattr(x, op)(y), small_ints(xs, ys))
            else:
                add(op, name, {"other": other}, lambda x, op=op, o=other: getattr(x, op)(o), small_ints(xs))

    def with_bounds(shape, lo, hi):
        """Random values with some placed exactly on the bounds."""
        def make(g):
            x = torch.randn(shape, generator=g).reshape(-1)
            pts = [v for v in (lo, hi) if v is not None]
            for i, v in enumerate(pts * 2):
                x[(3 * i + 1) % x.numel()] = v
            return {"x": x.reshape(shape)}
        return make

    for name, shape, lo, hi in [
        ("min and max, values on both bounds", (3, 5), -0.5, 0.5),
        ("min only, values on the bound", (2, 3, 4), 0.25, None),
        ("max only, values on the bound", (7,), None, 0.3),
        ("min equals max", (2, 3), 0.0, 0.0),
        ("rank 0 inside", (), -3.0, 3.0),
    ]:
        args = {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}
        add("clamp", name, args, lambda x, lo=lo, hi=hi: x.clamp(min=lo, max=hi),
            with_bounds(shape, lo, hi) if shape != () else randn())

    # ---- reductions ----
    for op in ("min", "max"):
        for name, shape, dim, keep in [
            ("dim 1 of [3, 5]", (3, 5), 1, None),
            ("dim -1 keepDim of [2, 3, 7]", (2, 3, 7), -1, True),
            ("dim 0 of [5, 1, 3] keepDim false", (5, 1, 3), 0, False),
            ("all elements of [3, 5]", (3, 5), None, None),
            ("all elements of [2, 3, 1, 5]", (2, 3, 1, 5), None, None),
        ]:
            if dim is None:
                add(op, name, {}, lambda x, op=op: getattr(x, op)(), distinct(*shape))
            else:
                args = {"dim": dim}
                if keep is not None:
                    args["keepDim"] = keep
                add(op, name, args, lambda x, op=op, d=dim, k=bool(keep): getattr(x, op)(d, keepdim=k)[0],
                    distinct(*shape))

    for name, shape, dim in [
        ("dim 0 of [5, 3]", (5, 3), 0),
        ("dim -1 of [2, 3, 7]", (2, 3, 7), -1),
        ("dim 1 of [2, 5, 1]", (2, 5, 1), 1),
        ("1-d [11]", (11,), 0),
    ]:
        add("argmin", name, {"dim": dim}, lambda x, d=dim: x.argmin(d), distinct(*shape))

    reduce_cfgs = [
        ("dim 1 of [3, 5]", (3, 5), 1, None),
        ("dim -1 keepDim of [2, 3, 7]", (2, 3, 7), -1, True),
        ("dims [0, -1] of [2, 3, 5]", (2, 3, 5), [0, -1], None),
        ("dims [1, 3] keepDim of [2, 3, 1, 5]", (2, 3, 1, 5), [1, 3], True),
        ("no dims: all of [2, 3, 5]", (2, 3, 5), None, None),
        ("no dims: rank 0", (), None, None),
    ]
    for op in ("sum", "mean"):
        for name, shape, dims, keep in reduce_cfgs:
            args = {} if dims is None else {"dims": dims}
            if keep is not None:
                args["keepDim"] = keep
            if dims is None:
                fn = lambda x, op=op: getattr(x, op)()  # noqa: E731
            else:
                fn = lambda x, op=op, d=dims, k=bool(keep): getattr(x, op)(d, keepdim=k)  # noqa: E731
            add(op, name, args, fn, randn(*shape))

    for name, shape, dims, unbiased, keep in [
        ("dim 1 of [3, 5]", (3, 5), 1, None, None),
        ("dim 1 of [3, 5] unbiased false", (3, 5), 1, False, None),
        ("dim -1 keepDim of [2, 3, 7]", (2, 3, 7), -1, True, True),
        ("dims [0, -1] of [2, 3, 5]", (2, 3, 5), [0, -1], None, None),
        ("dims [0, 2] keepDim unbiased false of [2, 3, 5, 1]", (2, 3, 5, 1), [0, 2], False, True),
        ("no dims: all of [2, 3, 5]", (2, 3, 5), None, None, None),
        ("no dims unbiased false", (3, 7), None, False, None),
    ]:
        args = {} if dims is None else {"dims": dims}
        if unbiased is not None:
            args["unbiased"] = unbiased
        if keep is not None:
            args["keepDim"] = keep
        ub = unbiased is not False
        if dims is None:
            fn = lambda x, ub=ub: x.var(unbiased=ub)  # noqa: E731
        else:
            fn = lambda x, d=dims, ub=ub, k=bool(keep): x.var(d, unbiased=ub, keepdim=k)  # noqa: E731
        add("var", name, args, fn, randn(*shape))

    # ---- elementwise / NN ----
    def scaled(shape, scale, shift=0.0):
        return lambda g: {"x": torch.randn(shape, generator=g) * scale + shift}

    def positive(shape):
        return lambda g: {"x": torch.rand(shape, generator=g) * 4 + 0.05}

    for name, make in [
        ("[3, 5]", positive((3, 5))),
        ("[2, 3, 1, 5]", positive((2, 3, 1, 5))),
        ("rank 0", positive(())),
        ("small values [7]", lambda g: {"x": torch.rand(7, generator=g) * 1e-2 + 1e-3}),
    ]:
        add("sqrt", name, {}, lambda x: x.sqrt(), make)
    for name, shape in [("[3, 5]", (3, 5)), ("[2, 3, 1, 5]", (2, 3, 1, 5)), ("rank 0", ())]:
        add("abs", name, {}, lambda x: x.abs(), randn(*shape))
    for op in ("sigmoid", "tanh"):
        for name, make in [("[3, 5]", randn(3, 5)), ("[2, 3, 1, 5]", randn(2, 3, 1, 5)), ("rank 0", randn()),
                           ("saturating values (scale 20) [11]", scaled((11,), 20.0))]:
            add(op, name, {}, lambda x, op=op: getattr(x, op)(), make)

    def large_row(g):
        x = torch.randn(3, 5, generator=g)
        x[1] = torch.tensor([1000.0, -1000.0, 999.5, 0.0, 998.0])
        return {"x": x}

    for op, torch_op in (("softmax", torch.softmax), ("logSoftmax", torch.log_softmax)):
        for name, make, dim in [
            ("dim -1 of [3, 5]", randn(3, 5), -1),
            ("dim 0 of [3, 5]", randn(3, 5), 0),
            ("dim 1 of [2, 3, 4]", randn(2, 3, 4), 1),
            ("1-d [7] dim 0", randn(7), 0),
            ("size-1 dim -1 of [3, 1]", randn(3, 1), -1),
            ("large-magnitude row (+-1000), dim -1", large_row, -1),
        ]:
            add(op, name, {"dim": dim}, lambda x, f=torch_op, d=dim: f(x, d), make)

    # ---- matmul ----
    def pair_inputs(a_shape, b_shape):
        return lambda g: {"a": torch.randn(a_shape, generator=g), "b": torch.randn(b_shape, generator=g)}

    for name, ash, bs in [
        ("2-d [3, 5] x [5, 2]", (3, 5), (5, 2)),
        ("2-d [1, 7] x [7, 1]", (1, 7), (7, 1)),
        ("3-d batched [2, 3, 4] x [2, 4, 5]", (2, 3, 4), (2, 4, 5)),
        ("3-d batch broadcast [1, 3, 4] x [3, 4, 2]", (1, 3, 4), (3, 4, 2)),
        ("3-d x 2-d broadcast [4, 3, 5] x [5, 2]", (4, 3, 5), (5, 2)),
    ]:
        add("matmul", name, {}, lambda a, b: a.matmul(b), pair_inputs(ash, bs))
    for name, ash, bs in [
        ("[2, 3, 4] x [2, 4, 5]", (2, 3, 4), (2, 4, 5)),
        ("[3, 1, 7] x [3, 7, 1]", (3, 1, 7), (3, 7, 1)),
        ("[1, 1, 1] x [1, 1, 3]", (1, 1, 1), (1, 1, 3)),
    ]:
        add("bmm", name, {}, lambda a, b: a.bmm(b), pair_inputs(ash, bs))

    # ---- creation (values only) ----
    none = lambda g: {}  # noqa: E731
    for name, args in [
        ("end 5", {"end": 5}),
        ("end 1", {"end": 1}),
        ("start 2 end 9", {"start": 2, "end": 9}),
        ("float step 0.1 from 0 to 1", {"start": 0, "end": 1, "step": 0.1}),
        ("negative step -2 from 5 to -3", {"start": 5, "end": -3, "step": -2}),
        ("negative float step -0.5 from 1.5 to -1", {"start": 1.5, "end": -1, "step": -0.5}),
    ]:
        add("arange", name, args,
            lambda a=args: torch.arange(a.get("start", 0), a["end"], a.get("step", 1)), none)
    for name, args in [("n 3", {"n": 3}), ("n 2 m 4", {"n": 2, "m": 4}), ("n 4 m 1", {"n": 4, "m": 1}),
                       ("n 1", {"n": 1})]:
        add("eye", name, args, lambda a=args: torch.eye(a["n"], a.get("m", a["n"])), none)
    for op, fn in (("zerosLike", torch.zeros_like), ("onesLike", torch.ones_like)):
        for name, make in [
            ("float [2, 3, 1]", randn(2, 3, 1)),
            ("rank 0", randn()),
            ("int32 [5]", lambda g: {"x": torch.randint(-3, 4, (5,), generator=g)}),
        ]:
            add(op, name, {}, lambda x, fn=fn: fn(x), make)

    def randint_fn(a):
        def fn():
            torch.manual_seed(a["seed"])
            return torch.randint(a.get("low", 0), a["high"], a["shape"])
        return fn

    for name, args in [
        ("seed 0, [0, 10), [3, 4]", {"seed": 0, "high": 10, "shape": [3, 4]}),
        ("seed 7, [-3, 5), [17]", {"seed": 7, "high": 5, "shape": [17], "low": -3}),
        ("seed 1, [0, 2), [2, 3, 5]", {"seed": 1, "high": 2, "shape": [2, 3, 5]}),
        ("seed 123, [-1000000, 1000000), [9]", {"seed": 123, "high": 1000000, "shape": [9], "low": -1000000}),
        ("seed 5, rank 0", {"seed": 5, "high": 100, "shape": []}),
    ]:
        add("randint", name, args, randint_fn(args), none)

    # ---- the arithmetic, views and clone (appended last, so the cases above keep their seeds) ----
    def two(x_shape, y_shape, positive_y=False):
        def make(g):
            y = torch.randn(y_shape, generator=g)
            return {"x": torch.randn(x_shape, generator=g), "y": y.abs() + 0.5 if positive_y else y}
        return make

    for op, fn in (("add", torch.add), ("sub", torch.sub), ("mul", torch.mul), ("div", torch.div)):
        for name, xs, ys in [("same shape [3, 4]", (3, 4), (3, 4)), ("broadcast [2, 3, 4] and [3, 1]", (2, 3, 4), (3, 1)),
                             ("broadcast [4] and [2, 1]", (4,), (2, 1)), ("rank 0 and [3]", (), (3,))]:
            add(op, name, {}, lambda x, y, fn=fn: fn(x, y), two(xs, ys, positive_y=op == "div"))
        add(op, "with the number 2.5 [2, 3]", {"other": 2.5}, lambda x, fn=fn: fn(x, 2.5), randn(2, 3))
    for name, make in [("[3, 4]", randn(3, 4)), ("rank 0", randn())]:
        add("neg", name, {}, lambda x: -x, make)
        add("exp", name, {}, lambda x: x.exp(), make)
        add("clone", name, {}, lambda x: x.clone(), make)
    for name, make in [("[3, 4]", positive((3, 4))), ("rank 0", positive(()))]:
        add("log", name, {}, lambda x: x.log(), make)
    for name, e in [("square", 2.0), ("cube", 3.0), ("square root", 0.5), ("inverse", -1.0)]:
        add("pow", name, {"exponent": e}, lambda x, e=e: x.pow(e), positive((2, 5)))
    for name, shape, to in [("[2, 3, 4] as [6, 4]", (2, 3, 4), [6, 4]), ("[2, 3, 4] as [-1]", (2, 3, 4), [-1]),
                            ("[12] as [3, -1, 2]", (12,), [3, -1, 2])]:
        add("view", name, {"shape": to}, lambda x, to=to: x.view(to), randn(*shape))
    for name, shape, dim in [("dim 1 of [3, 5]", (3, 5), 1), ("dim 0 of [4, 2, 3]", (4, 2, 3), 0),
                             ("dim -1 of [2, 3, 4]", (2, 3, 4), -1)]:
        add("argmax", name, {"dim": dim}, lambda x, d=dim: x.argmax(d), distinct(*shape))

    return {"torch": torch.__version__, "cases": cases}


def write_json(name, obj):
    path = os.path.join(OUT_DIR, name)
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")
    return path


# Each scripts/fixtures_<group>.py adds a group: its gen() returns {"torch", "cases"} in the
# tensor_ops format (make_tensor_op_case) and is written to tests/fixtures/<group>.json, where the
# op tests find it (tests/_op_cases.ts loads every tensor_ops.json-format file).
PLUGINS = sorted(f[len("fixtures_"):-3] for f in os.listdir(os.path.dirname(os.path.abspath(__file__)))
                 if f.startswith("fixtures_") and f.endswith(".py"))
GROUPS = ("ops", "net", "optim", "tensor_ops", *PLUGINS)


def main():
    parser = argparse.ArgumentParser(description="Generate PyTorch reference fixtures.")
    parser.add_argument("--only", choices=GROUPS, action="append",
                        help="write only this group's files (repeatable); default: all")
    only = parser.parse_args().only or GROUPS
    os.makedirs(OUT_DIR, exist_ok=True)
    written, meta = [], None
    if "ops" in only:
        written.append(write_json("ops.json", gen_ops()))
    if "net" in only:
        meta, blob = gen_net()
        written.append(write_json("net_adadelta.json", meta))
        bin_path = os.path.join(OUT_DIR, "net_adadelta_final.bin")
        with open(bin_path, "wb") as f:
            f.write(blob)
        written.append(bin_path)
    if "optim" in only:
        written.append(write_json("optim.json", gen_optim()))
    if "tensor_ops" in only:
        written.append(write_json("tensor_ops.json", gen_tensor_ops()))
    for group in PLUGINS:
        if group in only:
            module = importlib.import_module(f"fixtures_{group}")
            written.append(write_json(f"{group}.json", module.gen()))
    for path in written:
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()[:16]
        print(f"{os.path.relpath(path, ROOT)}  {os.path.getsize(path)} bytes  sha256:{digest}")
    if meta is not None:
        print("losses:", meta["losses"])

if __name__ == "__main__":
    main()
