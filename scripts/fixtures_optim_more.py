"""Fixture group optim_more: AdamW, RMSprop and Adagrad step by step, every optimizer's state_dict,
and gradient clipping (tests/fixtures/optim_more.json).

    /usr/bin/python3 scripts/gen_fixtures.py --only optim_more

Not in the tensor_ops format (no "nn_" prefix, so tests/_op_cases.ts does not load it); read by
tests/optim_more_test.ts. Tensors are {"shape", "data"} as everywhere (gen_fixtures.T).

  configs   [{optimizer, options, groups, p0, grads, params, state_dict}]
            optimizer: torch.optim class name; options: convnet options (camelCase) for every group;
            groups: null (one group of both parameters) or [{"params": [indices], ...convnet option
            overrides}]; p0: the two starting parameters ([2, 3] and [4]); grads: per step, one
            gradient per parameter, null where the parameter has none that step (it is skipped);
            params: both parameters after each of the 6 steps; state_dict: optimizer.state_dict()
            after step 3 in convnet's layout: state keyed by parameter index with "step" as a number
            and buffers as tensors (null for SGD's None), param_groups with PyTorch's keys, less the
            implementation switches (foreach, maximize, capturable, differentiable, fused)
  clip_norm [{name, grads, max_norm, norm_type, total_norm, clipped}]: torch.nn.utils.clip_grad_norm_
            over parameters whose gradients are `grads` (null: no gradient); norm_type "inf" for
            infinity; clipped: the gradients afterwards
  clip_value [{name, grads, clip_value, clipped}]: torch.nn.utils.clip_grad_value_
"""

import re

import torch
import torch.nn as nn
import torch.optim as optim

from gen_fixtures import T, f32

STEPS = 6
SAVE_AT = 3
# PyTorch's group keys that pick an implementation, not numbers: convnet has none of them.
TORCH_ONLY = {"foreach", "maximize", "capturable", "differentiable", "fused"}

CONFIGS = [
    ("AdamW", {}, None),
    ("AdamW", {"lr": 0.01, "weightDecay": 0.1, "amsgrad": True}, None),
    ("AdamW", {"lr": 0.02, "betas": [0.8, 0.95], "eps": 1e-6, "weightDecay": 0}, None),
    ("AdamW", {"lr": 0.01}, [{"params": [0]}, {"params": [1], "lr": 0.005, "weightDecay": 0.5}]),
    ("RMSprop", {}, None),
    ("RMSprop", {"lr": 0.005, "alpha": 0.9, "eps": 1e-6, "weightDecay": 0.1}, None),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}, None),
    ("RMSprop", {"lr": 0.01, "centered": True}, None),
    ("RMSprop", {"lr": 0.003, "momentum": 0.5, "centered": True, "weightDecay": 0.05}, None),
    ("RMSprop", {"lr": 0.01}, [{"params": [0], "centered": True}, {"params": [1], "momentum": 0.8}]),
    ("Adagrad", {}, None),
    ("Adagrad", {"lr": 0.1, "lrDecay": 0.01, "weightDecay": 0.1}, None),
    ("Adagrad", {"lr": 0.05, "initialAccumulatorValue": 0.1, "eps": 1e-6}, None),
    # PyTorch fills every group's sum with the constructor's initial_accumulator_value, whatever the
    # group says; convnet uses the group's, so the groups here leave it alone.
    ("Adagrad", {"lr": 0.1, "initialAccumulatorValue": 0.5}, [{"params": [0], "lrDecay": 0.1}, {"params": [1], "eps": 1e-3}]),
    # The optimizers that were there before: their state dicts.
    ("Adadelta", {"lr": 1.0}, None),
    ("Adadelta", {"lr": 0.5}, [{"params": [0], "rho": 0.8}, {"params": [1], "weightDecay": 0.1}]),
    ("SGD", {"lr": 0.1}, None),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, None),
    ("SGD", {"lr": 0.1}, [{"params": [0], "momentum": 0.9, "dampening": 0.1}, {"params": [1]}]),
    ("Adam", {"lr": 0.01, "amsgrad": True}, None),
    ("Adam", {"lr": 0.01}, [{"params": [0], "weightDecay": 0.1}, {"params": [1], "betas": [0.5, 0.9]}]),
]


def snake(name):
    return re.sub(r"[A-Z]", lambda m: "_" + m.group(0).lower(), name)


def torch_options(opts):
    return {snake(k): tuple(v) if isinstance(v, list) else v for k, v in opts.items()}


def state_dict_json(sd):
    state = {}
    for index, entry in sd["state"].items():
        out = {}
        for k, v in entry.items():
            if k == "step":
                out[k] = int(v.item() if torch.is_tensor(v) else v)
            else:
                out[k] = None if v is None else T(v)
        state[str(index)] = out
    groups = []
    for g in sd["param_groups"]:
        groups.append({k: list(v) if isinstance(v, tuple) else v for k, v in g.items() if k not in TORCH_ONLY})
    return {"state": state, "param_groups": groups}


def gen_configs():
    out = []
    for i, (name, opts, groups) in enumerate(CONFIGS):
        gen = torch.Generator().manual_seed(900 + i)
        p0 = [torch.randn(2, 3, generator=gen), torch.randn(4, generator=gen)]
        grads = []
        for step in range(STEPS):
            gs = [torch.randn(p.shape, generator=gen) for p in p0]
            if step in (1, 4):
                gs[1] = None  # the second parameter skips steps 2 and 5
            grads.append(gs)
        params = [nn.Parameter(p.clone()) for p in p0]
        if groups is None:
            arg = params
        else:
            arg = [{"params": [params[j] for j in g["params"]],
                    **torch_options({k: v for k, v in g.items() if k != "params"})} for g in groups]
        opt = getattr(optim, name)(arg, **torch_options(opts))
        after, saved = [], None
        for step, gs in enumerate(grads):
            for p, g in zip(params, gs):
                p.grad = None if g is None else g.clone()
            opt.step()
            after.append([T(p) for p in params])
            if step + 1 == SAVE_AT:
                saved = state_dict_json(opt.state_dict())
        out.append({"optimizer": name, "options": opts, "groups": groups, "p0": [T(p) for p in p0],
                    "grads": [[None if g is None else T(g) for g in gs] for gs in grads],
                    "params": after, "state_dict": saved})
    return out


def with_grads(grads):
    params = []
    for g in grads:
        p = nn.Parameter(torch.zeros(g.shape if g is not None else (1,)))
        p.grad = None if g is None else g.clone()
        params.append(p)
    return params


def gen_clip():
    gen = torch.Generator().manual_seed(77)
    sets = {
        "three tensors": [torch.randn(3, 4, generator=gen), torch.randn(5, generator=gen),
                          torch.randn(2, 2, 2, generator=gen)],
        "one large tensor": [torch.randn(7, 11, generator=gen) * 10],
        "with a parameter without gradient": [torch.randn(6, generator=gen), None, torch.randn(1, 3, generator=gen)],
        "rank 0": [torch.randn((), generator=gen) * 3],
    }
    norms = []
    for set_name, grads in sets.items():
        for norm_type in (2.0, 1.0, 3.0, float("inf")):
            for max_norm in (1.0, 100.0):
                params = with_grads(grads)
                total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
                norms.append({
                    "name": f"{set_name}, norm {norm_type}, max {max_norm}",
                    "grads": [None if g is None else T(g) for g in grads],
                    "max_norm": max_norm, "norm_type": "inf" if norm_type == float("inf") else norm_type,
                    "total_norm": f32(total.item()),
                    "clipped": [None if p.grad is None else T(p.grad) for p in params],
                })
    values = []
    for set_name, grads in sets.items():
        for clip_value in (0.5, 2.0):
            params = with_grads(grads)
            torch.nn.utils.clip_grad_value_(params, clip_value)
            values.append({
                "name": f"{set_name}, clip {clip_value}",
                "grads": [None if g is None else T(g) for g in grads],
                "clip_value": clip_value,
                "clipped": [None if p.grad is None else T(p.grad) for p in params],
            })
    return norms, values


def gen():
    norms, values = gen_clip()
    return {"torch": torch.__version__, "configs": gen_configs(), "clip_norm": norms, "clip_value": values}
