"""PyTorch CPU baseline of the inference study (bench/inference.ts).

Reads a dense MLP from a safetensors file on stdin's path argument (tensors w<i> [in, out] and
b<i> [out], read with json and numpy: no safetensors package needed), then times its forward pass
with torch.inference_mode at each batch size: rounds of calls, the median time per call. Prints
JSON: {"torch": version, "threads": n, "results": [{"batch", "seconds"}], "logits": first rows}.
"""
import json
import struct
import sys
import time

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        out[name] = np.frombuffer(data[base + begin : base + end], dtype="<f4").reshape(entry["shape"])
    return out


def main():
    path, threads, batches, rounds = sys.argv[1], int(sys.argv[2]), [int(b) for b in sys.argv[3].split(",")], int(sys.argv[4])
    torch.set_num_threads(threads)
    tensors = read_safetensors(path)
    layers = []
    i = 0
    while f"w{i}" in tensors:
        layers.append((torch.from_numpy(tensors[f"w{i}"].copy()), torch.from_numpy(tensors[f"b{i}"].copy())))
        i += 1

    def forward(x):
        for j, (w, b) in enumerate(layers):
            x = torch.addmm(b, x, w)
            if j < len(layers) - 1:
                x = torch.relu(x)
        return x

    x_all = torch.from_numpy(tensors["x"].copy())
    results = []
    with torch.inference_mode():
        logits = forward(x_all[:4]).numpy().tolist()
        for batch in batches:
            x = x_all[:batch].contiguous()
            calls = max(1, 2000 // batch)
            for _ in range(calls):
                forward(x)
            times = []
            for _ in range(rounds):
                start = time.perf_counter()
                for _ in range(calls):
                    forward(x)
                times.append((time.perf_counter() - start) / calls)
            results.append({"batch": batch, "seconds": float(np.median(times))})
    print(json.dumps({"torch": torch.__version__, "threads": threads, "results": results, "logits": logits}))


main()
