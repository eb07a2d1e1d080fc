"""Fixture group schedulers: learning-rate sequences of torch.optim.lr_scheduler (tests/fixtures/schedulers.json).

    /usr/bin/python3 scripts/gen_fixtures.py --only schedulers

Not in the tensor_ops format (no "nn_" prefix, so tests/_op_cases.ts does not load it); read by
tests/lr_scheduler_test.ts. Each case:

  name         what it exercises
  optimizer    {"type": "SGD" | "Adam" | "Adadelta", "options": convnet options, "groups": [per-group lr]}
  schedulers   [{"type": convnet class name, "options": convnet options}]; a LambdaLR's lrLambda is a name
               from LAMBDAS (the test holds the same functions)
  combine      "single" (one scheduler), "chain" (all stepped in order each epoch: the chainable forms)
               or "sequential" (SequentialLR over them, with "milestones")
  metrics      ReduceLROnPlateau only: the metric given to step(metric) at each epoch
  lrs          every group's lr right after construction, then after each step (len = steps + 1)
  momenta      when OneCycleLR cycles momentum: every group's momentum (SGD) or betas[0] (Adam), likewise
  states       {"<epoch>": state_dict()} after that many steps (single and sequential cases), with
               functions left out and ±inf/nan written as the strings "Infinity", "-Infinity", "NaN"

The optimizer never sees a gradient: optimizer.step() is called before each scheduler step only so that
PyTorch's call-order check stays quiet.
"""

import math
import re
import warnings
from collections import Counter

import torch
import torch.optim as optim
from torch.optim import lr_scheduler as L

STEPS = 30

LAMBDAS = {
    "pow0.95": lambda e: 0.95 ** e,
    "warmup5": lambda e: min(1.0, (e + 1) / 5),
    "halfEvery4": lambda e: 0.5 ** (e // 4),
    "invSqrt": lambda e: 1 / math.sqrt(e + 1),
}

# convnet option name -> PyTorch keyword, where the snake_case spelling is not it.
SPECIAL = {"tMax": "T_max", "etaMin": "eta_min", "minLr": "min_lr", "maxLr": "max_lr"}


def snake(name):
    return SPECIAL.get(name) or re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def torch_kwargs(options):
    out = {}
    for k, v in options.items():
        if k == "lrLambda":
            v = [LAMBDAS[n] for n in v] if isinstance(v, list) else LAMBDAS[v]
        out[snake(k)] = v
    return out


def make_optimizer(spec):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in spec["groups"]]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, spec["groups"])]
    cls = {"SGD": optim.SGD, "Adam": optim.Adam, "Adadelta": optim.Adadelta}[spec["optimizer"]["type"]]
    return cls(groups, **torch_kwargs(spec["optimizer"]["options"]))


def make_scheduler(opt, spec):
    return getattr(L, spec["type"])(opt, **torch_kwargs(spec["options"]))


def jsonable(v):
    """A state_dict value as JSON: Counters and tuples as dicts and lists, non-finite floats as strings."""
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if isinstance(v, Counter):
        return {str(k): n for k, n in sorted(v.items())}
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items() if not callable(x)}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


def momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


def run(case):
    opt = make_optimizer(case)
    scheds = [make_scheduler(opt, s) for s in case["schedulers"]]
    if case["combine"] == "sequential":
        top = L.SequentialLR(opt, scheds, milestones=case["milestones"])
    elif case["combine"] == "single":
        (top,) = scheds
    else:
        top = None
    cycles = any(s["type"] == "OneCycleLR" and s["options"].get("cycleMomentum", True) for s in case["schedulers"])
    save_at = case.pop("save_at", [])
    lrs, moms, states = [], [], {}

    def record(epoch):
        lrs.append([g["lr"] for g in opt.param_groups])
        if top is not None and hasattr(top, "get_last_lr") and hasattr(top, "_last_lr"):
            assert top.get_last_lr() == lrs[-1], (case["name"], epoch)
        if cycles:
            moms.append(momenta(opt))
        if epoch in save_at:
            states[str(epoch)] = jsonable(top.state_dict())

    record(0)
    metrics = case.get("metrics")
    steps = len(metrics) if metrics else case.get("steps", STEPS)
    for epoch in range(1, steps + 1):
        opt.step()
        if metrics:
            top.step(metrics[epoch - 1])
        elif top is not None:
            top.step()
        else:
            for s in scheds:
                s.step()
        record(epoch)
    case["lrs"] = lrs
    if cycles:
        case["momenta"] = moms
    if states:
        case["states"] = states
    return case


def sgd(*groups, **options):
    return {"optimizer": {"type": "SGD", "options": {"lr": groups[0], **options}}, "groups": list(groups)}


def adam(*groups):
    return {"optimizer": {"type": "Adam", "options": {"lr": groups[0], "betas": [0.9, 0.99]}}, "groups": list(groups)}


def single(name, opt, kind, options, **extra):
    return {"name": name, **opt, "schedulers": [{"type": kind, "options": options}], "combine": "single",
            "save_at": [0, 13, STEPS], **extra}


def cases():
    plateau_metrics = [1.0, 0.9, 0.95, 0.9, 0.91, 0.92, 0.93, 0.5, 0.5, 0.49995, 0.6, 0.7, 0.8, 0.9,
                       0.45, 0.46, 0.47, 0.48, 0.49, 0.3, 0.31, 0.32, 0.33, 0.34, 0.35, 0.36, 0.2, 0.21, 0.22, 0.23]
    rising = [0.1, 0.2, 0.2, 0.21, 0.215, 0.22, 0.3, 0.3, 0.3, 0.3, 0.3, 0.5, 0.5, 0.5, 0.5,
              0.8, 0.79, 0.78, 0.77, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95]
    out = [
        single("StepLR, two groups", sgd(0.1, 0.3), "StepLR", {"stepSize": 3, "gamma": 0.5}),
        single("StepLR, default gamma", sgd(1.0), "StepLR", {"stepSize": 7}),
        single("MultiStepLR with a repeated milestone, two groups", sgd(0.1, 0.025), "MultiStepLR",
               {"milestones": [3, 7, 7, 12], "gamma": 0.3}),
        single("MultiStepLR with unsorted milestones", sgd(0.5), "MultiStepLR", {"milestones": [20, 5, 11]}),
        single("ExponentialLR, two groups", sgd(0.1, 0.7), "ExponentialLR", {"gamma": 0.87}),
        single("CosineAnnealingLR past tMax (the recursive form rises again)", sgd(0.1, 0.3), "CosineAnnealingLR",
               {"tMax": 10, "etaMin": 0.001}),
        single("CosineAnnealingLR, tMax 7, etaMin 0", adam(0.01), "CosineAnnealingLR", {"tMax": 7}),
        single("LinearLR, defaults", sgd(0.1, 0.3), "LinearLR", {}),
        single("LinearLR decaying", sgd(0.2), "LinearLR", {"startFactor": 1.0, "endFactor": 0.05, "totalIters": 9}),
        single("LinearLR warm-up", sgd(0.2, 0.05), "LinearLR", {"startFactor": 0.25, "endFactor": 0.8,
                                                                "totalIters": 13}),
        single("LambdaLR, one function", sgd(0.1, 0.3), "LambdaLR", {"lrLambda": "pow0.95"}),
        single("LambdaLR, one function per group", sgd(0.1, 0.3), "LambdaLR",
               {"lrLambda": ["warmup5", "halfEvery4"]}),
        single("OneCycleLR, defaults, SGD momentum", sgd(0.1, 0.3, momentum=0.9), "OneCycleLR",
               {"maxLr": 1.0, "totalSteps": STEPS}),
        single("OneCycleLR, linear, three phases, Adam betas, per-group maxLr", adam(0.01, 0.02), "OneCycleLR",
               {"maxLr": [0.1, 0.05], "epochs": 5, "stepsPerEpoch": 6, "pctStart": 0.25,
                "annealStrategy": "linear", "threePhase": True, "divFactor": 10.0, "finalDivFactor": 100.0}),
        single("OneCycleLR, cos, three phases, momentum bounds per group", sgd(0.1, 0.3, momentum=0.5), "OneCycleLR",
               {"maxLr": 0.4, "totalSteps": 33, "pctStart": 0.4, "threePhase": True, "baseMomentum": [0.8, 0.7],
                "maxMomentum": 0.9}, steps=33),
        {**single("OneCycleLR without momentum cycling (Adadelta)", {}, "OneCycleLR",
                  {"maxLr": 2.0, "totalSteps": 31, "cycleMomentum": False, "pctStart": 0.5}),
         "optimizer": {"type": "Adadelta", "options": {"lr": 1.0}}, "groups": [1.0]},
        single("ReduceLROnPlateau, min/rel, patience 2, cooldown 1, per-group minLr", sgd(0.1, 0.3),
               "ReduceLROnPlateau", {"factor": 0.5, "patience": 2, "cooldown": 1, "minLr": [0.01, 0.05]},
               metrics=plateau_metrics),
        single("ReduceLROnPlateau, defaults", sgd(0.1), "ReduceLROnPlateau", {}, metrics=plateau_metrics),
        single("ReduceLROnPlateau, max/abs, patience 1, eps blocks tiny updates", sgd(0.1, 2e-8),
               "ReduceLROnPlateau", {"mode": "max", "thresholdMode": "abs", "threshold": 0.01, "patience": 1,
                                     "factor": 0.2, "eps": 1e-8}, metrics=rising),
        single("ReduceLROnPlateau, max/rel, patience 0", sgd(0.1), "ReduceLROnPlateau",
               {"mode": "max", "patience": 0, "threshold": 0.05, "minLr": 0.002}, metrics=rising),
        {"name": "SequentialLR: LinearLR warm-up, then CosineAnnealingLR", **sgd(0.1, 0.3),
         "schedulers": [{"type": "LinearLR", "options": {"startFactor": 0.1, "totalIters": 4}},
                        {"type": "CosineAnnealingLR", "options": {"tMax": 20, "etaMin": 0.001}}],
         "combine": "sequential", "milestones": [5], "save_at": [0, 3, 13, STEPS]},
        {"name": "SequentialLR: ExponentialLR, StepLR, MultiStepLR", **sgd(0.2),
         "schedulers": [{"type": "ExponentialLR", "options": {"gamma": 0.8}},
                        {"type": "StepLR", "options": {"stepSize": 3, "gamma": 0.5}},
                        {"type": "MultiStepLR", "options": {"milestones": [0, 4, 6], "gamma": 0.5}}],
         "combine": "sequential", "milestones": [4, 11], "save_at": [0, 4, 11, 17, STEPS]},
        {"name": "SequentialLR: LambdaLR, then LinearLR, then CosineAnnealingLR", **sgd(0.1, 0.05),
         "schedulers": [{"type": "LambdaLR", "options": {"lrLambda": "warmup5"}},
                        {"type": "LinearLR", "options": {"startFactor": 0.5, "endFactor": 0.1, "totalIters": 6}},
                        {"type": "CosineAnnealingLR", "options": {"tMax": 5}}],
         "combine": "sequential", "milestones": [5, 12], "save_at": [0, 12, STEPS]},
        {"name": "chained: ExponentialLR and MultiStepLR stepped together", **sgd(0.1, 0.3),
         "schedulers": [{"type": "ExponentialLR", "options": {"gamma": 0.95}},
                        {"type": "MultiStepLR", "options": {"milestones": [5, 15], "gamma": 0.5}}],
         "combine": "chain"},
        {"name": "chained: LinearLR warm-up and CosineAnnealingLR stepped together", **sgd(0.1),
         "schedulers": [{"type": "LinearLR", "options": {"startFactor": 0.2, "totalIters": 6}},
                        {"type": "CosineAnnealingLR", "options": {"tMax": 12, "etaMin": 0.002}}],
         "combine": "chain"},
    ]
    return out


def gen():
    warnings.simplefilter("ignore")
    return {"torch": torch.__version__, "steps": STEPS, "cases": [run(c) for c in cases()]}
