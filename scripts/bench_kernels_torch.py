"""PyTorch twin of scripts/bench_kernels.ts: times the calls bench_kernels.ts timed, with the same
geometry and the same method (a host timer around call + synchronize, median of repeats after one
warm-up call), on the CPU or on the card.

    python3 scripts/bench_kernels_torch.py KERNELS_CONVNET.json OUT.json [--device cpu|cuda]
        [--threads N] [--min-time SECONDS]

KERNELS_CONVNET.json is what bench_kernels.ts wrote (each row's `args` holds the call's geometry).
bench_kernels.ts --peers runs this; so does scripts/gpu_check.sh on a card. On the card, TF32 is
off: our kernels are plain FP32, so we compare with PyTorch's FP32.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def loaded_blas():
    """The BLAS library this process has loaded (after a matmul), e.g. Debian's libblas.so.3 alternative:
    the reference BLAS or OpenBLAS, whichever is installed; PyTorch's CPU GEMMs go through it."""
    torch.mm(torch.ones(8, 8), torch.ones(8, 8))
    try:
        with open("/proc/self/maps") as f:
            libs = {p for p in (line.split()[-1] for line in f) if "blas" in os.path.basename(p).lower()}
    except OSError:
        return "?"
    return ", ".join(sorted(os.path.realpath(p) for p in libs)) or "none loaded"


def timer(dev):
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)

    def timed(fn, min_time):
        fn()
        sync()
        samples, start = [], time.perf_counter()
        while len(samples) < 3 or time.perf_counter() - start < min_time:
            t0 = time.perf_counter()
            fn()
            sync()
            samples.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(samples)

    return timed


def kernel_call(kernel, a, dev):
    """The PyTorch call that does what bench_kernels.ts's `kernel` did with geometry `a`, or None."""
    r = lambda *s: torch.rand(*s, device=dev) * 2 - 1
    if kernel.startswith("conv2d"):
        x, w, b = r(a["n"], a["c"], a["h"], a["w"]), r(a["k"], a["c"] // a["groups"], a["kh"], a["kw"]), r(a["k"])
        dy = r(a["n"], a["k"], a["oh"], a["ow"])
        st, pd, dl = [a["strideH"], a["strideW"]], [a["padH"], a["padW"]], [a["dilationH"], a["dilationW"]]
        if kernel == "conv2d forward":
            return lambda: F.conv2d(x, w, b, st, pd, dl, a["groups"])
        mask = [True, False, False] if kernel == "conv2d backward-input" else [False, True, False]
        return lambda: torch.ops.aten.convolution_backward(dy, x, w, None, st, pd, dl, False, [0, 0], a["groups"], mask)
    if "Pool2d" in kernel:
        x, dy = r(a["n"], a["c"], a["h"], a["w"]), r(a["n"], a["c"], a["oh"], a["ow"])
        k, st, pd = [a["kh"], a["kw"]], [a["strideH"], a["strideW"]], [a["padH"], a["padW"]]
        kind, phase = kernel.split("Pool2d ")
        if kind == "max":
            _, idx = torch.ops.aten.max_pool2d_with_indices(x, k, st, pd)
            if phase == "forward":
                return lambda: torch.ops.aten.max_pool2d_with_indices(x, k, st, pd)
            return lambda: torch.ops.aten.max_pool2d_with_indices_backward(dy, x, k, st, pd, [1, 1], False, idx)
        div = 1 if kind == "sum" else None  # sum pooling = avg pooling with divisor 1
        if phase == "forward":
            return lambda: torch.ops.aten.avg_pool2d(x, k, st, pd, False, True, div)
        return lambda: torch.ops.aten.avg_pool2d_backward(dy, x, k, st, pd, False, True, div)
    if kernel.startswith("gemm"):
        m, n, kk = a["m"], a["n"], a["k"]
        A = r(kk, m).t() if a["transA"] else r(m, kk)
        B = r(n, kk).t() if a["transB"] else r(kk, n)
        C = torch.empty(m, n, device=dev)
        return lambda: torch.mm(A, B, out=C)
    return None


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("rows", help="the JSON bench_kernels.ts wrote")
    p.add_argument("out", help="where to write this script's JSON")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cuda")
    p.add_argument("--threads", type=int, default=0, help="CPU threads (default: PyTorch's own choice)")
    p.add_argument("--min-time", type=float, default=0.3, help="seconds of repeats per call")
    o = p.parse_args(argv)
    if o.device == "cuda" and not torch.cuda.is_available():
        sys.exit("bench_kernels_torch: --device cuda, but this PyTorch sees no CUDA device")
    if o.threads < 0:
        sys.exit(f"bench_kernels_torch: --threads must be >= 1 (or 0 for PyTorch's default), got {o.threads}")
    if o.threads:
        torch.set_num_threads(o.threads)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device(o.device)
    try:
        rows = json.load(open(o.rows))["rows"]
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"bench_kernels_torch: cannot read rows from {o.rows}: {e} (expected bench_kernels.ts's JSON)")
    timed = timer(dev)
    out = []
    for row in rows:
        fn = kernel_call(row["kernel"], row["args"], dev) if row.get("args") else None
        ms = timed(fn, o.min_time) if fn else None
        out.append({"kernel": row["kernel"], "shape": row["shape"], "ms": ms})
        print(f"torch {row['kernel']:24} {row['shape']:40} {'-' if ms is None else f'{ms:9.3f}'}", flush=True)
    where = torch.cuda.get_device_name() if o.device == "cuda" else platform.processor() or platform.machine()
    info = {
        "torch": torch.__version__,
        "device": o.device,
        "card": torch.cuda.get_device_name() if o.device == "cuda" else None,
        "where": where,
        "threads": torch.get_num_threads(),
        "blas": loaded_blas() if o.device == "cpu" else None,
        "rows": out,
    }
    json.dump(info, open(o.out, "w"), indent=2)


if __name__ == "__main__":
    main(sys.argv[1:])
