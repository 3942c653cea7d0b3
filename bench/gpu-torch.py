"""The GPU kit's peer: PyTorch's fp32 dense matmul (cuBLAS, TF32 off) on our dense forward's shapes.

usage: python3 gpu-torch.py --features 4096 --batches 512,4096 --min-time 0.3 --samples 3 --out torch.json

bench/gpu.sh runs it before our benchmark when python3 is there; it is never required. Exit status:
0 with the JSON written; 10 when PyTorch cannot be imported or sees no CUDA device (the kit then
runs without a peer).

Each shape X[N, F] @ W[F, F] is timed as our benchmark times its own (src/kernels/bench.ts,
timeCallsBoth): one warm-up call, then `samples` measurements, each of as many calls as fill
min-time / samples (the count doubling, or jumping to the estimate, until a measurement does),
the median taken. GPU time from CUDA events around the calls (as our timestamp queries), wall
clock from the host clock around the same calls and a synchronize.

Writes {"name", "version", "device", "features", "statistic", "samples", "minSeconds",
"gpuSeconds": {N: s}, "seconds": {N: s}}.
"""
import argparse
import json
import math
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--features", type=int, required=True)
parser.add_argument("--batches", required=True, help="comma-separated N")
parser.add_argument("--min-time", type=float, default=0.3)
parser.add_argument("--samples", type=int, default=3)
parser.add_argument("--out", required=True)
args = parser.parse_args()

try:
    import torch
except Exception as error:  # any import failure means: no peer
    print(f"peer: PyTorch cannot be imported ({type(error).__name__}: {error}): no peer")
    sys.exit(10)
if not torch.cuda.is_available():
    print(f"peer: PyTorch {torch.__version__} sees no CUDA device: no peer")
    sys.exit(10)

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_float32_matmul_precision("highest")
device = torch.device("cuda")
gen = torch.Generator(device=device).manual_seed(0)
features = args.features
out = {
    "name": "PyTorch",
    "version": torch.__version__,
    "device": torch.cuda.get_device_name(0),
    "cuda": torch.version.cuda,
    "features": features,
    "statistic": "median",
    "samples": args.samples,
    "minSeconds": args.min_time,
    "gpuSeconds": {},
    "seconds": {},
}
print(f"peer: PyTorch {out['version']} (CUDA {out['cuda']}) on {out['device']}, fp32 with TF32 off")
share = args.min_time / args.samples
for n in [int(b) for b in args.batches.split(",") if b]:
    x = torch.randn(n, features, device=device, generator=gen)
    w = torch.randn(features, features, device=device, generator=gen)
    torch.matmul(x, w)
    torch.cuda.synchronize()
    calls, walls, gpus = 1, [], []
    while len(walls) < args.samples:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        t0 = time.perf_counter()
        start.record()
        for _ in range(calls):
            torch.matmul(x, w)
        end.record()
        torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        if seconds < share and calls < 1 << 16:
            calls = min(1 << 16, max(calls * 2, math.ceil(calls * share / max(seconds, 1e-6))))
            continue
        walls.append(seconds / calls)
        gpus.append(start.elapsed_time(end) / 1e3 / calls)
    median = lambda values: sorted(values)[len(values) // 2]
    out["seconds"][str(n)] = median(walls)
    out["gpuSeconds"][str(n)] = median(gpus)
    g = out["gpuSeconds"][str(n)]
    print(f"  peer dense {n}x{features}x{features}: GPU {g * 1e3:.3f} ms ({2 * n * features * features / g / 1e12:.1f} TFLOP/s), wall {out['seconds'][str(n)] * 1e3:.3f} ms")
    del x, w
with open(args.out, "w") as f:
    json.dump(out, f, indent=2)
