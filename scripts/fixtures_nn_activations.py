"""Fixture group nn_activations: gelu, leakyRelu, silu, elu, and dropout/dropout2d where they are
deterministic (eval mode, p = 0, p = 1; a training mask cannot equal PyTorch's, see
tests/nn_activations_test.ts).

Written to tests/fixtures/nn_activations.json by `/usr/bin/python3 scripts/gen_fixtures.py --only
nn_activations`, in the format of gen_tensor_ops(). A case's args are {} (the op's defaults) or
{"options": {...}}: the call is then F.<op>(x, options), with convnet's option names.
"""

import warnings

import torch
import torch.nn.functional as F

from gen_fixtures import make_tensor_op_case


def gen():
    cases = []
    seed = [40000]

    def add(op, name, options, fn, make_inputs):
        """make_inputs(g) builds the inputs from a case-local generator; options None: the defaults."""
        seed[0] += 1
        g = torch.Generator().manual_seed(seed[0])
        args = {} if options is None else {"options": options}
        cases.append(make_tensor_op_case(op, name, args, make_inputs(g), fn, seed[0]))

    def randn(*shape, scale=1.0):
        return lambda g: {"x": torch.randn(shape, generator=g) * scale}

    def with_zeros(*shape):
        """Normal values with exact zeros at every fourth element (where the gradient follows a convention)."""
        def make(g):
            x = torch.randn(shape, generator=g)
            x.view(-1)[::4] = 0.0
            return {"x": x}
        return make

    # ---- gelu ----
    for name, make in [("[3, 5]", randn(3, 5)), ("[2, 3, 1, 5]", randn(2, 3, 1, 5)), ("rank 0", randn()),
                       ("wide range (scale 4) [17]", randn(17, scale=4.0))]:
        add("gelu", name, None, lambda x: F.gelu(x), make)
    add("gelu", "approximate none, explicit [2, 7]", {"approximate": "none"}, lambda x: F.gelu(x, approximate="none"),
        randn(2, 7))
    for name, make in [("approximate tanh [3, 5]", randn(3, 5)),
                       ("approximate tanh, wide range (scale 4) [17]", randn(17, scale=4.0))]:
        add("gelu", name, {"approximate": "tanh"}, lambda x: F.gelu(x, approximate="tanh"), make)

    # ---- leakyRelu ----
    add("leakyRelu", "default slope [3, 5]", None, lambda x: F.leaky_relu(x), randn(3, 5))
    add("leakyRelu", "default slope, zeros included [2, 3, 1, 5]", None, lambda x: F.leaky_relu(x),
        with_zeros(2, 3, 1, 5))
    for slope, shape in [(0.2, (4, 6)), (-0.5, (7,)), (3.0, (2, 5))]:
        add("leakyRelu", f"negativeSlope {slope} {list(shape)}", {"negativeSlope": slope},
            lambda x, s=slope: F.leaky_relu(x, negative_slope=s), randn(*shape))
    add("leakyRelu", "rank 0", None, lambda x: F.leaky_relu(x), randn())

    # ---- silu ----
    for name, make in [("[3, 5]", randn(3, 5)), ("[2, 3, 1, 5]", randn(2, 3, 1, 5)), ("rank 0", randn()),
                       ("saturating values (scale 20) [11]", randn(11, scale=20.0))]:
        add("silu", name, None, lambda x: F.silu(x), make)

    # ---- elu ----
    add("elu", "default alpha [3, 5]", None, lambda x: F.elu(x), randn(3, 5))
    add("elu", "default alpha, zeros included [2, 3, 1, 5]", None, lambda x: F.elu(x), with_zeros(2, 3, 1, 5))
    for alpha, shape in [(0.5, (4, 6)), (2.0, (7,))]:
        add("elu", f"alpha {alpha} {list(shape)}", {"alpha": alpha}, lambda x, a=alpha: F.elu(x, alpha=a),
            randn(*shape))
    add("elu", "large magnitudes (scale 40) [13]", None, lambda x: F.elu(x), randn(13, scale=40.0))
    add("elu", "rank 0", None, lambda x: F.elu(x), randn())

    # ---- dropout, dropout2d: the deterministic cases ----
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dropout2d on a 3-d input warns in 1.13; eval and p = 0 are the identity
        for op, fn in (("dropout", F.dropout), ("dropout2d", F.dropout2d)):
            shapes = [(2, 3, 4, 5), (3, 2, 5)]
            for shape in shapes:
                add(op, f"eval mode is the identity {list(shape)}", {"training": False},
                    lambda x, fn=fn: fn(x, training=False), randn(*shape))
                add(op, f"p 0 in training is the identity {list(shape)}", {"p": 0},
                    lambda x, fn=fn: fn(x, p=0.0, training=True), randn(*shape))
            add(op, "eval mode with p 0.9 [2, 3, 2, 2]", {"p": 0.9, "training": False},
                lambda x, fn=fn: fn(x, p=0.9, training=False), randn(2, 3, 2, 2))
            add(op, "p 1 gives zeros [2, 3, 2, 3]", {"p": 1}, lambda x, fn=fn: fn(x, p=1.0, training=True),
                randn(2, 3, 2, 3))
        add("dropout", "eval mode, rank 0", {"training": False}, lambda x: F.dropout(x, training=False), randn())

    return {"torch": torch.__version__, "cases": cases}
