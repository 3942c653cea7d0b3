"""PyTorch fp32 dense matmul (TF32 off) on the shapes of our WebGPU benchmark, for bench/gpu.sh.

usage: python3 gpu-torch.py webgpu.json torch.json
Reads the features and batches from our results; times X[N, F] @ W[F, F] with CUDA events (median of
5 measurements, each of enough calls to fill 0.2 s); writes {"seconds": {N: s}, "device": ...}.
"""
import json
import sys

import torch

ours = json.load(open(sys.argv[1]))
features = ours["grid"]["features"]
batches = sorted({row["batch"] for row in ours["rows"]})
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_float32_matmul_precision("highest")
device = torch.device("cuda")
gen = torch.Generator(device=device).manual_seed(0)
out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "seconds": {}}
for n in batches:
    x = torch.randn(n, features, device=device, generator=gen)
    w = torch.randn(features, features, device=device, generator=gen)
    torch.matmul(x, w)
    torch.cuda.synchronize()
    calls, times = 1, []
    while len(times) < 5:
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            torch.matmul(x, w)
        end.record()
        torch.cuda.synchronize()
        seconds = start.elapsed_time(end) / 1e3
        if seconds < 0.04 and calls < 1 << 16:
            calls *= 2
            continue
        times.append(seconds / calls)
    s = sorted(times)[len(times) // 2]
    out["seconds"][str(n)] = s
    print(f"torch fp32 {n}x{features}x{features}: {s * 1e3:.3f} ms, {2 * n * features * features / s / 1e9:.0f} GFLOP/s")
json.dump(out, open(sys.argv[2], "w"), indent=2)
