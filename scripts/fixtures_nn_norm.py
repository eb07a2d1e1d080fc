"""Fixture group nn_norm: batch, layer and group normalisation (tests/fixtures/nn_norm.json and
tests/fixtures/norm_layers.json).

    /usr/bin/python3 scripts/gen_fixtures.py --only nn_norm
    /usr/bin/python3 scripts/fixtures_nn_norm.py --verify-convnet   # the reverse direction, by hand

nn_norm.json: cases in the tensor_ops format (gen_fixtures.gen_tensor_ops documents it):

  batchNorm  inputs {x, runningMean?, runningVar?, weight?, bias?}; args {training?, momentum?, eps?}
             (F.batch_norm; the running statistics carry no gradient, so they have none in "grads";
             "inputs" holds them before the call)
  layerNorm  inputs {x, weight?, bias?}; args {normalizedShape: int | [int], eps?}
  groupNorm  inputs {x, weight?, bias?}; args {numGroups, eps?}

norm_layers.json, for tests/nn_norm_test.ts:

  runs   nn.BatchNorm1d/2d in training for a few steps, then in evaluation: per step the input, the
         output, the gradients of sum(output * grad_output) for the input, weight and bias, and the
         buffers after the step (running_mean, running_var, num_batches_tracked); options in
         convnet's names (momentum null = the cumulative moving average).
  model  conv1 -> bn1 (BatchNorm2d) -> relu -> fc, trained 3 SGD steps: its state_dict's keys in
         PyTorch's order with shapes and dtypes (num_batches_tracked is int64), every tensor, and
         its outputs in evaluation and training mode on a fixed input.

--verify-convnet runs a small deno script that builds the same model in convnet, trains it a few
steps and saves its state dict as safetensors; this script then parses the file with json+struct
(no safetensors package here), loads it into the PyTorch model with load_state_dict(strict=True)
and compares the outputs in evaluation mode.
"""

import json
import os
import struct
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

from gen_fixtures import ROOT, T, make_tensor_op_case, write_json

SEED = 60000


def gen_cases():
    cases = []
    seed = [SEED]

    def add(op, name, args, fn, make_inputs, no_grad=()):
        seed[0] += 1
        g = torch.Generator().manual_seed(seed[0])
        case = make_tensor_op_case(op, name, args, make_inputs(g), fn, seed[0])
        for k in no_grad:
            case["grads"].pop(k)
        cases.append(case)

    # ---- batchNorm ----
    def bn_inputs(shape, stats=True, affine=True, scale=1.0, shift=0.0):
        def make(g):
            c = shape[1]
            inputs = {"x": torch.randn(shape, generator=g) * scale + shift}
            if stats:
                inputs["runningMean"] = torch.randn(c, generator=g) * 0.5
                inputs["runningVar"] = torch.rand(c, generator=g) * 1.5 + 0.3
            if affine:
                inputs["weight"] = torch.randn(c, generator=g)
                inputs["bias"] = torch.randn(c, generator=g)
            return inputs
        return make

    def bn_fn(training, momentum, eps):
        def fn(x, runningMean=None, runningVar=None, weight=None, bias=None):
            # The running statistics are buffers: PyTorch refuses ones that require grad.
            rm = runningMean.detach() if runningMean is not None else None
            rv = runningVar.detach() if runningVar is not None else None
            return F.batch_norm(x, rm, rv, weight, bias, training, momentum, eps)
        return fn

    # name, shape, training, momentum, eps, running stats, affine, scale, shift
    batch_norm = [
        ("train [3, 4, 5, 2]", (3, 4, 5, 2), True, None, None, True, True, 1.0, 0.0),
        ("train 2-d [5, 3]", (5, 3), True, None, None, True, True, 1.0, 0.0),
        ("train 3-d [2, 3, 7]", (2, 3, 7), True, None, None, True, True, 1.0, 0.0),
        ("train without running stats [4, 3, 3, 3]", (4, 3, 3, 3), True, None, None, False, True, 1.0, 0.0),
        ("train without weight and bias [2, 5, 3, 2]", (2, 5, 3, 2), True, None, None, True, False, 1.0, 0.0),
        ("train momentum 0.3 eps 1e-3 [3, 2, 4]", (3, 2, 4), True, 0.3, 1e-3, True, True, 1.0, 0.0),
        ("train batch 1 [1, 3, 4, 5]", (1, 3, 4, 5), True, None, None, True, True, 1.0, 0.0),
        ("train 2 values per channel [2, 4]", (2, 4), True, None, None, True, True, 1.0, 0.0),
        ("train offset and scaled inputs (50 + 3x) [4, 3, 2, 3]", (4, 3, 2, 3), True, None, None, True, True,
         3.0, 50.0),
        ("eval [3, 4, 5, 2]", (3, 4, 5, 2), False, None, None, True, True, 1.0, 0.0),
        ("eval 2-d [5, 3]", (5, 3), False, None, None, True, True, 1.0, 0.0),
        ("eval without weight and bias [2, 3, 4]", (2, 3, 4), False, None, None, True, False, 1.0, 0.0),
        ("eval eps 1e-2 batch 1 [1, 2, 3, 3]", (1, 2, 3, 3), False, None, 1e-2, True, True, 1.0, 0.0),
    ]
    for name, shape, training, momentum, eps, stats, affine, scale, shift in batch_norm:
        args = {"training": training}
        if momentum is not None:
            args["momentum"] = momentum
        if eps is not None:
            args["eps"] = eps
        add("batchNorm", name, args, bn_fn(training, momentum if momentum is not None else 0.1,
                                           eps if eps is not None else 1e-5),
            bn_inputs(shape, stats, affine, scale, shift), no_grad=("runningMean", "runningVar") if stats else ())

    # ---- layerNorm ----
    def affine_inputs(shape, vec_shape, affine=True, scale=1.0, shift=0.0):
        def make(g):
            inputs = {"x": torch.randn(shape, generator=g) * scale + shift}
            if affine:
                inputs["weight"] = torch.randn(vec_shape, generator=g)
                inputs["bias"] = torch.randn(vec_shape, generator=g)
            return inputs
        return make

    # name, shape, normalizedShape, affine, eps
    layer_norm = [
        ("[4, 6] over 6", (4, 6), 6, True, None),
        ("[2, 3, 4, 5] over [4, 5]", (2, 3, 4, 5), [4, 5], True, None),
        ("[3, 5] over [3, 5] (all dims) without weight and bias", (3, 5), [3, 5], False, None),
        ("[2, 7, 3] over 3 eps 1e-3", (2, 7, 3), 3, True, 1e-3),
        ("[5, 1] over 1 (one element: the output is the bias)", (5, 1), 1, True, None),
        ("1-d [9] over 9", (9,), 9, True, None),
    ]
    for name, shape, ns, affine, eps in layer_norm:
        args = {"normalizedShape": ns}
        if eps is not None:
            args["eps"] = eps
        vec = [ns] if isinstance(ns, int) else ns

        def fn(x, weight=None, bias=None, vec=vec, eps=eps if eps is not None else 1e-5):
            return F.layer_norm(x, vec, weight, bias, eps)
        add("layerNorm", name, args, fn, affine_inputs(shape, vec, affine))

    # ---- groupNorm ----
    # name, shape, numGroups, affine, eps, scale, shift
    group_norm = [
        ("[2, 6, 3, 3] in 3 groups", (2, 6, 3, 3), 3, True, None, 1.0, 0.0),
        ("3-d [3, 4, 5] in 2 groups", (3, 4, 5), 2, True, None, 1.0, 0.0),
        ("[2, 4, 3, 2] in 4 groups (instance norm)", (2, 4, 3, 2), 4, True, None, 1.0, 0.0),
        ("[2, 5, 2, 2] in 1 group without weight and bias", (2, 5, 2, 2), 1, False, None, 1.0, 0.0),
        ("2-d [3, 6] in 2 groups eps 1e-3", (3, 6), 2, True, 1e-3, 1.0, 0.0),
        ("offset and scaled inputs (-20 + 5x) [1, 4, 3, 3] in 2 groups", (1, 4, 3, 3), 2, True, None, 5.0, -20.0),
    ]
    for name, shape, groups, affine, eps, scale, shift in group_norm:
        args = {"numGroups": groups}
        if eps is not None:
            args["eps"] = eps

        def fn(x, weight=None, bias=None, groups=groups, eps=eps if eps is not None else 1e-5):
            return F.group_norm(x, groups, weight, bias, eps)
        add("groupNorm", name, args, fn, affine_inputs(shape, shape[1], affine, scale, shift))

    return cases


def TD(t):
    """T plus the dtype, for state dicts: "float32" or "int64"."""
    out = T(t)
    out["dtype"] = "int64" if t.dtype == torch.int64 else "float32"
    return out


def gen_runs():
    """nn.BatchNorm1d/2d trained a few steps, then evaluated; see the module docstring."""
    # name, layer, numFeatures, options (convnet's names), step input shapes, eval input shape
    configs = [
        ("BatchNorm2d momentum 0.1", "BatchNorm2d", 3, {}, [(4, 3, 5, 4)] * 3, (2, 3, 5, 4)),
        ("BatchNorm2d momentum null (cumulative average)", "BatchNorm2d", 3, {"momentum": None},
         [(4, 3, 3, 4), (2, 3, 3, 4), (5, 3, 3, 4), (3, 3, 3, 4)], (2, 3, 3, 4)),
        ("BatchNorm1d [N, C] momentum 0.1 eps 1e-3", "BatchNorm1d", 5, {"eps": 1e-3}, [(6, 5), (3, 5), (7, 5)],
         (4, 5)),
        ("BatchNorm1d [N, C, L] momentum null", "BatchNorm1d", 4, {"momentum": None}, [(3, 4, 6), (2, 4, 6),
                                                                                        (4, 4, 6)], (1, 4, 6)),
        ("BatchNorm2d momentum 0.5 without affine", "BatchNorm2d", 2, {"momentum": 0.5, "affine": False},
         [(3, 2, 4, 4)] * 2, (2, 2, 4, 4)),
        ("BatchNorm2d without running stats (eval uses the batch)", "BatchNorm2d", 3,
         {"trackRunningStats": False}, [(3, 3, 4, 2)] * 2, (2, 3, 4, 2)),
    ]
    runs = []
    for i, (name, layer, c, options, step_shapes, eval_shape) in enumerate(configs):
        g = torch.Generator().manual_seed(SEED + 1000 + i)
        kwargs = {"momentum": options.get("momentum", 0.1), "eps": options.get("eps", 1e-5),
                  "affine": options.get("affine", True),
                  "track_running_stats": options.get("trackRunningStats", True)}
        bn = getattr(nn, layer)(c, **kwargs)
        params = {}
        if bn.affine:
            # Non-trivial scale and shift, which the test copies in.
            with torch.no_grad():
                bn.weight.copy_(torch.rand(c, generator=g) + 0.5)
                bn.bias.copy_(torch.randn(c, generator=g))
            params = {"weight": T(bn.weight), "bias": T(bn.bias)}
        steps = []
        for k, shape in enumerate(step_shapes):
            bn.train()
            # Each batch has its own mean and spread, so the running statistics move.
            x = (torch.randn(shape, generator=g) * (1 + k) + k - 1).requires_grad_(True)
            bn.zero_grad()
            out = bn(x)
            grad_output = torch.randn(out.shape, generator=g)
            (out * grad_output).sum().backward()
            step = {"input": T(x), "output": T(out), "grad_output": T(grad_output), "grads": {"input": T(x.grad)}}
            if bn.affine:
                step["grads"]["weight"] = T(bn.weight.grad)
                step["grads"]["bias"] = T(bn.bias.grad)
            step["buffers"] = {b: TD(v) for b, v in bn.named_buffers()}
            steps.append(step)
        bn.eval()
        x = torch.randn(eval_shape, generator=g) * 2 + 0.5
        with torch.no_grad():
            eval_out = bn(x)
        runs.append({
            "name": name, "layer": layer, "numFeatures": c, "options": options, "params": params,
            "state_dict": [{"name": k, "shape": list(v.shape), "dtype": TD(v)["dtype"]}
                           for k, v in bn.state_dict().items()],
            "steps": steps,
            "eval": {"input": T(x), "output": T(eval_out),
                     "buffers": {b: TD(v) for b, v in bn.named_buffers()}},
        })
    return runs


class Net(nn.Module):
    """conv1 -> bn1 -> relu -> fc: the model of the state dict interop check (tests/nn_norm_test.ts)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 5 * 5, 3)

    def forward(self, x):
        return self.fc(F.relu(self.bn1(self.conv1(x))).flatten(1))


def gen_model():
    torch.manual_seed(SEED + 2000)
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    for _ in range(3):
        x = torch.randn(6, 2, 5, 5) * 1.5 + 0.3
        y = torch.randint(0, 3, (6,))
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    x = torch.randn(3, 2, 5, 5)
    sd = {k: v.clone() for k, v in model.state_dict().items()}  # copies: training mode below moves bn1's buffers
    model.eval()
    with torch.no_grad():
        eval_out = model(x)
    model.train()
    with torch.no_grad():
        train_out = model(x)
    return {
        "keys": [{"name": k, "shape": list(v.shape), "dtype": TD(v)["dtype"]} for k, v in sd.items()],
        "state": {k: TD(v) for k, v in sd.items()},
        "input": T(x),
        "eval_output": T(eval_out),
        "train_output": T(train_out),
        "buffers_after_train": {k: TD(v) for k, v in model.bn1.named_buffers()},
    }


def gen():
    path = write_json("norm_layers.json", {"torch": torch.__version__, "runs": gen_runs(), "model": gen_model()})
    print(f"{os.path.relpath(path, ROOT)}  {os.path.getsize(path)} bytes")
    return {"torch": torch.__version__, "cases": gen_cases()}


# ---- the reverse direction: a convnet-saved file loaded by PyTorch ----

DENO_SAVE = """
import { F, io, manualSeed, nn, optim, Tensor, tensor } from "%(root)s/mod.ts";
class Net extends nn.Module {
  conv1 = new nn.Conv2d(2, 4, { kernelSize: 3, padding: 1 });
  bn1 = new nn.BatchNorm2d(4);
  fc = new nn.Linear(4 * 5 * 5, 3);
  forward(x: Tensor): Tensor {
    return this.fc.forward(F.relu(this.bn1.forward(this.conv1.forward(x))).flatten(1));
  }
}
manualSeed(7);
const model = new Net();
const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
for (let step = 0; step < 3; step++) {
  const x = Tensor.randn([6, 2, 5, 5]);
  const y = tensor([0, 1, 2, 0, 1, 2], [6], { dtype: "int32" });
  opt.zeroGrad();
  F.crossEntropy(model.forward(x), y).backward();
  opt.step();
}
model.eval();
const x = Tensor.randn([3, 2, 5, 5]);
const out = model.forward(x);
await Deno.writeFile("%(dir)s/model.safetensors", io.saveBytes(model.stateDict()));
await Deno.writeTextFile("%(dir)s/io.json", JSON.stringify({
  input: { shape: x.shape, data: [...x.toArray()] },
  output: { shape: out.shape, data: [...out.toArray()] },
}));
"""

ST_DTYPES = {"F32": (torch.float32, "f", 4), "I64": (torch.int64, "q", 8), "I32": (torch.int32, "i", 4),
             "F64": (torch.float64, "d", 8)}


def read_safetensors(path):
    """The tensors of a safetensors file, parsed with json and struct (no safetensors package needed)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        dtype, code, size = ST_DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        values = struct.unpack(f"<{(end - begin) // size}{code}", data[8 + n + begin:8 + n + end])
        out[name] = torch.tensor(values, dtype=dtype).reshape(info["shape"])
    return out


def verify_convnet():
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "save.ts")
        with open(script, "w") as f:
            f.write(DENO_SAVE % {"root": ROOT, "dir": tmp})
        subprocess.run(["deno", "run", "-A", script], check=True, cwd=ROOT)
        sd = read_safetensors(os.path.join(tmp, "model.safetensors"))
        with open(os.path.join(tmp, "io.json")) as f:
            io = json.load(f)
    model = Net()
    want = model.state_dict()
    print("convnet's keys:", {k: (list(v.shape), str(v.dtype)) for k, v in sd.items()})
    for k, v in want.items():
        assert sd[k].dtype == v.dtype and sd[k].shape == v.shape, (k, sd[k].dtype, v.dtype, sd[k].shape, v.shape)
    print(model.load_state_dict(sd, strict=True))
    model.eval()
    x = torch.tensor(io["input"]["data"]).reshape(io["input"]["shape"])
    with torch.no_grad():
        got = model(x)
    expected = torch.tensor(io["output"]["data"]).reshape(io["output"]["shape"])
    diff = (got - expected).abs().max().item()
    print(f"num_batches_tracked = {int(sd['bn1.num_batches_tracked'])} ({sd['bn1.num_batches_tracked'].dtype}); "
          f"eval outputs, PyTorch vs convnet: max |diff| = {diff:.3g}")
    assert diff < 1e-5, diff


if __name__ == "__main__":
    if sys.argv[1:] != ["--verify-convnet"]:
        sys.exit("usage: scripts/fixtures_nn_norm.py --verify-convnet (fixtures: gen_fixtures.py --only nn_norm)")
    verify_convnet()
