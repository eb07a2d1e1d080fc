"""Fixture group nn_spatial: adaptive pooling and transposed convolution (tests/fixtures/nn_spatial.json).

    /usr/bin/python3 scripts/gen_fixtures.py --only nn_spatial

Cases in the tensor_ops format (gen_fixtures.gen_tensor_ops documents it):

  adaptiveAvgPool2d, adaptiveMaxPool2d  inputs {x}; args {outputSize: int | [h, w] (null keeps the input's size)}
  convTranspose2d                       inputs {x, weight, bias?}; args: the options present, in convnet's
                                        names {stride, padding, outputPadding, groups, dilation}

Max pooling inputs have no ties (a permutation plus noise), so the first maximum is the only one.

One more key, "layers": nn.ConvTranspose2d and nn.AdaptiveAvgPool2d/AdaptiveMaxPool2d built after
torch.manual_seed(seed), each with its parameters (shape, float64 sum, first values) and its output
on a fixed input, for tests/nn_spatial_test.ts.
"""

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from gen_fixtures import T, make_tensor_op_case, f32

SEED = 40000


def distinct(shape, g):
    """Values without ties: a permutation of 0..n-1, scaled and shifted, plus noise below the gap."""
    n = int(np.prod(shape))
    perm = torch.randperm(n, generator=g).to(torch.float32)
    noise = torch.rand(n, generator=g) * 0.1
    return ((perm + noise) * 0.5 - n * 0.25).reshape(shape)


def torch_size(out):
    """convnet's outputSize (an int, or [h, w] with null for "the input's size") as PyTorch's."""
    return tuple(out) if isinstance(out, list) else out


def gen():
    cases = []
    seed = [SEED]

    def add(op, name, args, fn, make_inputs):
        seed[0] += 1
        g = torch.Generator().manual_seed(seed[0])
        cases.append(make_tensor_op_case(op, name, args, make_inputs(g), fn, seed[0]))

    # ---- adaptive pooling ----
    adaptive = [
        ("[2, 3, 8, 8] to 4 (windows divide the input)", (2, 3, 8, 8), 4),
        ("[2, 2, 7, 9] to [3, 4] (windows overlap)", (2, 2, 7, 9), [3, 4]),
        ("[2, 3, 7, 7] to 1 (global, as in ResNet)", (2, 3, 7, 7), 1),
        ("[1, 2, 3, 5] to [5, 7] (larger than the input)", (1, 2, 3, 5), [5, 7]),
        ("unbatched [3, 5, 6] to [4, 3]", (3, 5, 6), [4, 3]),
        ("[2, 2, 6, 10] to [6, 3] (rows kept, columns overlap)", (2, 2, 6, 10), [6, 3]),
        ("[1, 2, 5, 4] to [1, 3] (one row)", (1, 2, 5, 4), [1, 3]),
        ("[2, 2, 5, 6] to [null, 4] (height kept)", (2, 2, 5, 6), [None, 4]),
        ("batch 1 [1, 1, 11, 13] to [5, 6]", (1, 1, 11, 13), [5, 6]),
        ("unbatched [2, 4, 4] to 1", (2, 4, 4), 1),
    ]
    for name, shape, out in adaptive:
        add("adaptiveAvgPool2d", name, {"outputSize": out},
            lambda x, o=torch_size(out): F.adaptive_avg_pool2d(x, o),
            lambda g, shape=shape: {"x": torch.randn(shape, generator=g)})
    for name, shape, out in adaptive:
        add("adaptiveMaxPool2d", name, {"outputSize": out},
            lambda x, o=torch_size(out): F.adaptive_max_pool2d(x, o),
            lambda g, shape=shape: {"x": distinct(shape, g)})

    # ---- transposed convolution ----
    # name, x shape [N, Cin, H, W], Cout, kernel [kh, kw], bias, options (convnet names; absent = default)
    transposed = [
        ("k3 defaults", (2, 3, 4, 5), 4, (3, 3), True, {}),
        ("stride 2 padding 1 outputPadding 1", (2, 4, 4, 4), 3, (3, 3), True,
         {"stride": 2, "padding": 1, "outputPadding": 1}),
        ("groups 2 stride 2", (2, 4, 3, 4), 6, (3, 3), True, {"stride": 2, "groups": 2}),
        ("groups 3, one output channel per group", (1, 3, 4, 4), 3, (2, 2), True, {"groups": 3, "padding": 1}),
        ("dilation 2 padding 1", (2, 2, 4, 5), 3, (3, 3), True, {"dilation": 2, "padding": 1}),
        ("non-square kernel [2, 3] stride [2, 1] padding [0, 1] on 3x6", (2, 2, 3, 6), 3, (2, 3), True,
         {"stride": [2, 1], "padding": [0, 1]}),
        ("batch 1 without bias", (1, 3, 5, 5), 2, (3, 3), False, {"stride": 2, "padding": 1}),
        ("stride 3 outputPadding [2, 1]", (2, 2, 3, 3), 2, (2, 2), True, {"stride": 3, "outputPadding": [2, 1]}),
        ("outputPadding 1 at stride 1 (dilation 2)", (2, 2, 4, 4), 3, (3, 3), True,
         {"dilation": 2, "outputPadding": 1}),
        ("1x1 kernel stride 2 (rows and columns only bias)", (2, 3, 3, 4), 2, (1, 1), True, {"stride": 2}),
        ("padding 2 larger than stride, all options", (2, 4, 5, 4), 4, (4, 3), True,
         {"stride": [2, 3], "padding": [2, 1], "outputPadding": [1, 2], "groups": 2, "dilation": [1, 2]}),
    ]
    for name, xs, cout, (kh, kw), bias, opts in transposed:
        groups = opts.get("groups", 1)

        def make(g, xs=xs, cout=cout, kh=kh, kw=kw, bias=bias, groups=groups):
            inputs = {"x": torch.randn(xs, generator=g),
                      "weight": torch.randn((xs[1], cout // groups, kh, kw), generator=g)}
            if bias:
                inputs["bias"] = torch.randn((cout,), generator=g)
            return inputs

        def fn(x, weight, bias=None, o=opts):
            return F.conv_transpose2d(x, weight, bias, stride=o.get("stride", 1), padding=o.get("padding", 0),
                                      output_padding=o.get("outputPadding", 0), groups=o.get("groups", 1),
                                      dilation=o.get("dilation", 1))

        add("convTranspose2d", name, opts, fn, make)

    return {"torch": torch.__version__, "cases": cases, "layers": gen_layers()}


def summary(p):
    flat = p.detach().reshape(-1)
    return {"shape": list(p.shape), "sum": float(p.detach().double().sum()),
            "first": [f32(v) for v in flat[:8].numpy()]}


def gen_layers():
    """Layers built after torch.manual_seed(seed): parameters and the output on a fixed input."""
    layers = []
    configs = [
        # name, seed, constructor kwargs (convnet names), PyTorch layer, input shape
        ("ConvTranspose2d(4, 6) k3 s2 p1 op1 groups 2", 5,
         {"inChannels": 4, "outChannels": 6, "kernelSize": 3, "stride": 2, "padding": 1, "outputPadding": 1,
          "groups": 2},
         lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), (2, 4, 3, 3)),
        ("ConvTranspose2d(3, 2) k [2, 3] no bias dilation 2", 6,
         {"inChannels": 3, "outChannels": 2, "kernelSize": [2, 3], "bias": False, "dilation": 2},
         lambda: nn.ConvTranspose2d(3, 2, (2, 3), bias=False, dilation=2), (1, 3, 4, 2)),
        ("ConvTranspose2d(16, 1) k5 (fan-in from the output channels)", 7,
         {"inChannels": 16, "outChannels": 1, "kernelSize": 5},
         lambda: nn.ConvTranspose2d(16, 1, 5), (1, 16, 2, 2)),
    ]
    for name, seed, kwargs, make, xs in configs:
        torch.manual_seed(seed)
        layer = make()
        x = torch.randn(xs, generator=torch.Generator().manual_seed(seed))
        layers.append({
            "name": name,
            "seed": seed,
            "kwargs": kwargs,
            "params": {k: summary(p) for k, p in layer.named_parameters()},
            "input": T(x),
            "output": T(layer(x)),
        })
    return layers
