"""Fixture group nn_losses: the loss ops of F against PyTorch 1.13.

    /usr/bin/python3 scripts/gen_fixtures.py --only nn_losses   # writes tests/fixtures/nn_losses.json

Cases in the tensor_ops format (see gen_tensor_ops in gen_fixtures.py), with:

  op       nllLoss, crossEntropy, mseLoss, l1Loss, smoothL1Loss, binaryCrossEntropy,
           binaryCrossEntropyWithLogits
  inputs   x (input, logits or probabilities), y (target: int32 class indices, or float),
           weight and posWeight when given (no gradient: PyTorch's nll_loss refuses one, and
           convnet's would be the true derivative)
  args     the options in convnet's names, absent = default: reduction, ignoreIndex,
           labelSmoothing, beta

Every reduction, class weights, ignored targets within the batch (and every target ignored,
with "sum" and "none": "mean" gives NaN, checked in tests/nn_losses_test.ts), label smoothing
with and without weights, K-dimensional targets, unbatched inputs, stable logits.
"""

import torch
import torch.nn.functional as F

from gen_fixtures import make_tensor_op_case, TJ

# convnet's option names -> PyTorch's keyword arguments
TORCH_NAMES = {"reduction": "reduction", "ignoreIndex": "ignore_index", "labelSmoothing": "label_smoothing",
               "beta": "beta"}


def gen():
    cases = []
    seed = [40000]

    def add(op, name, args, torch_fn, x, y, weight=None, pos_weight=None):
        """One case: torch_fn(x, y, weight=..., pos_weight=..., **args); weights are inputs without gradients."""
        seed[0] += 1
        kwargs = {TORCH_NAMES[k]: v for k, v in args.items()}
        extra = {}
        if weight is not None:
            kwargs["weight"] = weight
            extra["weight"] = weight
        if pos_weight is not None:
            kwargs["pos_weight"] = pos_weight
            extra["posWeight"] = pos_weight
        case = make_tensor_op_case(op, name, args, {"x": x, "y": y}, lambda x, y: torch_fn(x, y, **kwargs), seed[0])
        case["inputs"].update({k: TJ(v) for k, v in extra.items()})
        cases.append(case)

    def gen_for(k):
        return torch.Generator().manual_seed(k)

    def randn(g, *shape, scale=1.0):
        return torch.randn(shape, generator=g) * scale

    def classes(g, c, *shape, ignore=None, ignored=()):
        """Class indices in [0, c) of `shape`; the flat positions in `ignored` set to `ignore`."""
        t = torch.randint(0, c, shape, generator=g)
        flat = t.reshape(-1)
        for i in ignored:
            flat[i] = ignore
        return t

    def weights(g, c):
        return torch.rand(c, generator=g) * 2 + 0.25

    # ---- nllLoss: log-probabilities in, class indices ----
    g = gen_for(1)
    logp = randn(g, 6, 5).log_softmax(1)
    t = classes(g, 5, 6)
    w = weights(g, 5)
    t_ign = classes(g, 5, 6, ignore=-100, ignored=(1, 4))
    for red in ("mean", "sum", "none"):
        add("nllLoss", f"[6, 5] {red}", {"reduction": red}, F.nll_loss, logp, t)
        add("nllLoss", f"[6, 5] class weights {red}", {"reduction": red}, F.nll_loss, logp, t, weight=w)
        add("nllLoss", f"[6, 5] ignoreIndex -100 in the batch {red}", {"reduction": red}, F.nll_loss, logp, t_ign)
        add("nllLoss", f"[6, 5] weights and ignoreIndex -100 in the batch {red}", {"reduction": red}, F.nll_loss,
            logp, t_ign, weight=w)
    add("nllLoss", "[6, 5] default options", {}, F.nll_loss, logp, t)
    t_cls = classes(g, 5, 6)
    t_cls[0] = 3
    add("nllLoss", "[6, 5] ignoreIndex 3 (a real class) with weights", {"ignoreIndex": 3}, F.nll_loss, logp, t_cls,
        weight=w)
    all_ign = torch.full((6,), -1, dtype=torch.int64)
    for red in ("sum", "none"):
        add("nllLoss", f"[6, 5] every target ignored {red}", {"reduction": red, "ignoreIndex": -1}, F.nll_loss,
            logp, all_ign)
    logp_k = randn(g, 2, 4, 3, 5).log_softmax(1)
    t_k = classes(g, 4, 2, 3, 5, ignore=-100, ignored=(0, 7, 29))
    w_k = weights(g, 4)
    for red in ("mean", "sum", "none"):
        add("nllLoss", f"K-dim [2, 4, 3, 5] weights and ignored targets {red}", {"reduction": red}, F.nll_loss,
            logp_k, t_k, weight=w_k)
    add("nllLoss", "3-d [3, 4, 7] mean", {}, F.nll_loss, randn(g, 3, 4, 7).log_softmax(1), classes(g, 4, 3, 7))
    add("nllLoss", "unbatched [5] none", {"reduction": "none"}, F.nll_loss, randn(g, 5), torch.tensor(2))
    add("nllLoss", "unbatched [5] mean with weights", {}, F.nll_loss, randn(g, 5), torch.tensor(4), weight=w)
    add("nllLoss", "one class [3, 1]", {}, F.nll_loss, randn(g, 3, 1), torch.zeros(3, dtype=torch.int64))

    # ---- crossEntropy: logits in ----
    g = gen_for(2)
    x = randn(g, 7, 5, scale=3.0)
    t = classes(g, 5, 7)
    w = weights(g, 5)
    t_ign = classes(g, 5, 7, ignore=-100, ignored=(0, 5))
    add("crossEntropy", "[7, 5] default options (the fused kernel)", {}, F.cross_entropy, x, t)
    add("crossEntropy", "[7, 5] explicit ignoreIndex -100, none in the batch", {"ignoreIndex": -100},
        F.cross_entropy, x, t)
    for red in ("mean", "sum", "none"):
        add("crossEntropy", f"[7, 5] {red}", {"reduction": red}, F.cross_entropy, x, t)
        add("crossEntropy", f"[7, 5] class weights {red}", {"reduction": red}, F.cross_entropy, x, t, weight=w)
        add("crossEntropy", f"[7, 5] ignoreIndex -100 in the batch {red}", {"reduction": red, "ignoreIndex": -100},
            F.cross_entropy, x, t_ign)
        add("crossEntropy", f"[7, 5] weights and ignored targets {red}", {"reduction": red, "ignoreIndex": -100},
            F.cross_entropy, x, t_ign, weight=w)
        add("crossEntropy", f"[7, 5] labelSmoothing 0.1 {red}", {"reduction": red, "labelSmoothing": 0.1},
            F.cross_entropy, x, t)
        add("crossEntropy", f"[7, 5] labelSmoothing 0.2 with weights {red}", {"reduction": red, "labelSmoothing": 0.2},
            F.cross_entropy, x, t, weight=w)
        add("crossEntropy", f"[7, 5] labelSmoothing 0.3, weights, ignored targets {red}",
            {"reduction": red, "labelSmoothing": 0.3, "ignoreIndex": -100}, F.cross_entropy, x, t_ign, weight=w)
    add("crossEntropy", "[7, 5] labelSmoothing 0.25 with ignored targets mean", {"labelSmoothing": 0.25},
        F.cross_entropy, x, t_ign)
    add("crossEntropy", "[7, 5] labelSmoothing 1 (uniform target)", {"labelSmoothing": 1.0}, F.cross_entropy, x, t)
    add("crossEntropy", "[7, 5] ignoreIndex 2 (a real class) with smoothing", {"ignoreIndex": 2, "labelSmoothing": 0.1},
        F.cross_entropy, x, t, weight=w)
    all_ign = torch.full((7,), 9, dtype=torch.int64)
    for red in ("sum", "none"):
        add("crossEntropy", f"[7, 5] every target ignored, smoothing {red}",
            {"reduction": red, "ignoreIndex": 9, "labelSmoothing": 0.1}, F.cross_entropy, x, all_ign)
    x_k = randn(g, 2, 4, 3, 5, scale=2.0)
    t_k = classes(g, 4, 2, 3, 5, ignore=-100, ignored=(3, 11, 20))
    w_k = weights(g, 4)
    add("crossEntropy", "K-dim [2, 4, 3, 5] default options", {}, F.cross_entropy, x_k, classes(g, 4, 2, 3, 5))
    for red in ("mean", "sum", "none"):
        add("crossEntropy", f"K-dim [2, 4, 3, 5] weights, ignored targets, smoothing 0.15 {red}",
            {"reduction": red, "labelSmoothing": 0.15}, F.cross_entropy, x_k, t_k, weight=w_k)
    add("crossEntropy", "K-dim [2, 4, 3, 5] ignored targets mean", {}, F.cross_entropy, x_k, t_k)
    add("crossEntropy", "3-d [3, 6, 4] (a sequence) mean", {}, F.cross_entropy, randn(g, 3, 6, 4), classes(g, 6, 3, 4))
    add("crossEntropy", "unbatched [5] none", {"reduction": "none"}, F.cross_entropy, randn(g, 5), torch.tensor(1))
    add("crossEntropy", "unbatched [5] smoothing and weights", {"labelSmoothing": 0.2}, F.cross_entropy, randn(g, 5),
        torch.tensor(3), weight=w)
    add("crossEntropy", "large logits (scale 40), smoothing", {"labelSmoothing": 0.1}, F.cross_entropy,
        randn(g, 4, 6, scale=40.0), classes(g, 6, 4))

    # ---- elementwise regression losses ----
    g = gen_for(3)
    a, b = randn(g, 3, 5), randn(g, 3, 5)
    for op, fn in (("mseLoss", F.mse_loss), ("l1Loss", F.l1_loss)):
        for red in ("mean", "sum", "none"):
            add(op, f"[3, 5] {red}", {"reduction": red}, fn, a, b)
        add(op, "[2, 3, 4] default", {}, fn, randn(g, 2, 3, 4, scale=2.0), randn(g, 2, 3, 4))
        add(op, "0-d", {}, fn, randn(g), randn(g))
    add("l1Loss", "[4] equal elements (gradient 0 there)", {"reduction": "sum"}, F.l1_loss,
        torch.tensor([1.0, -2.0, 0.5, 3.0]), torch.tensor([1.0, 0.0, 0.5, -1.0]))
    # smooth L1: differences spread over both sides of beta (no |d| exactly at beta)
    d = randn(g, 4, 6, scale=1.5)
    base = randn(g, 4, 6)
    for beta in (1.0, 0.5, 2.0):
        for red in ("mean", "sum", "none"):
            args = {"reduction": red} if beta == 1.0 else {"reduction": red, "beta": beta}
            add("smoothL1Loss", f"[4, 6] beta {beta} {red}", args, F.smooth_l1_loss, base + d, base)
    add("smoothL1Loss", "[4, 6] beta 0 (the L1 loss)", {"beta": 0.0}, F.smooth_l1_loss, base + d, base)
    add("smoothL1Loss", "[2, 3, 2] default", {}, F.smooth_l1_loss, randn(g, 2, 3, 2, scale=2.0), randn(g, 2, 3, 2))

    # ---- binary cross-entropy: probabilities in (0, 1), hard and soft targets ----
    g = gen_for(4)
    p = torch.sigmoid(randn(g, 4, 3, scale=2.0))
    hard = torch.randint(0, 2, (4, 3), generator=g).to(torch.float32)
    soft = torch.rand(4, 3, generator=g)
    w_col = torch.rand(3, generator=g) + 0.5
    w_row = torch.rand(4, 1, generator=g) + 0.5
    w_full = torch.rand(4, 3, generator=g) + 0.5
    for red in ("mean", "sum", "none"):
        add("binaryCrossEntropy", f"[4, 3] hard targets {red}", {"reduction": red}, F.binary_cross_entropy, p, hard)
        add("binaryCrossEntropy", f"[4, 3] soft targets, weight [3] {red}", {"reduction": red},
            F.binary_cross_entropy, p, soft, weight=w_col)
    add("binaryCrossEntropy", "[4, 3] weight [4, 1]", {}, F.binary_cross_entropy, p, soft, weight=w_row)
    add("binaryCrossEntropy", "[4, 3] weight [4, 3] sum", {"reduction": "sum"}, F.binary_cross_entropy, p, hard,
        weight=w_full)
    add("binaryCrossEntropy", "confident [6] (p within 1e-4 of 0 and 1)", {}, F.binary_cross_entropy,
        torch.tensor([1e-4, 0.9999, 0.5, 0.02, 0.98, 0.3]), torch.tensor([0.0, 1.0, 1.0, 1.0, 0.0, 0.25]))
    add("binaryCrossEntropy", "[2, 2, 3] soft targets", {}, F.binary_cross_entropy,
        torch.sigmoid(randn(g, 2, 2, 3)), torch.rand(2, 2, 3, generator=g))

    # ---- binary cross-entropy with logits ----
    x = randn(g, 5, 3, scale=3.0)
    soft = torch.rand(5, 3, generator=g)
    hard = torch.randint(0, 2, (5, 3), generator=g).to(torch.float32)
    pw = torch.rand(3, generator=g) * 3 + 0.2
    w = torch.rand(5, 1, generator=g) + 0.5
    bcel = F.binary_cross_entropy_with_logits
    for red in ("mean", "sum", "none"):
        add("binaryCrossEntropyWithLogits", f"[5, 3] soft targets {red}", {"reduction": red}, bcel, x, soft)
        add("binaryCrossEntropyWithLogits", f"[5, 3] posWeight [3] {red}", {"reduction": red}, bcel, x, hard,
            pos_weight=pw)
        add("binaryCrossEntropyWithLogits", f"[5, 3] weight [5, 1] and posWeight [3] {red}", {"reduction": red},
            bcel, x, soft, weight=w, pos_weight=pw)
    add("binaryCrossEntropyWithLogits", "[5, 3] weight [3]", {}, bcel, x, hard, weight=torch.rand(3, generator=g))
    add("binaryCrossEntropyWithLogits", "large logits ±60 (stable)", {"reduction": "none"}, bcel,
        torch.tensor([60.0, -60.0, 35.0, -35.0, 0.0, 17.5]), torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.3]))
    add("binaryCrossEntropyWithLogits", "[2, 3, 4] default", {}, bcel, randn(g, 2, 3, 4, scale=2.0),
        torch.rand(2, 3, 4, generator=g))
    return {"torch": torch.__version__, "cases": cases}
