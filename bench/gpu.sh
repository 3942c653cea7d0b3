#!/usr/bin/env bash
# GPU benchmark for a machine with an NVIDIA GPU (written for an H200) and PyTorch:
#   - our WGSL dense matmul against PyTorch fp32 dense (TF32 off), same shapes;
#   - our WGSL block-sparse forward against our WGSL dense, C = K = 4096, blocks 8/16/32,
#     densities 1, 0.5, 0.25, 0.1, 0.05, batches 64 and 512.
# Targets: sparse at density 0.1, block 32 >= 5x faster than our dense; our dense >= 30% of PyTorch.
#
# Such a machine may be bare (no Node.js, no Vulkan loader, no network), so the script runs from a
# kit made beforehand on a machine with the repository and network:
#
#   bash bench/gpu.sh prepare        # here: writes bench/gpu-kit/ (git-ignored, about 50 MB):
#                                    #   node (xz), dawn.node, the benchmark bundled into one file,
#                                    #   the Vulkan loader as a .deb (unpacked there with dpkg -x)
#   bash bench/gpu.sh run [OUTDIR]   # there: checks prerequisites, says what is missing, runs both
#                                    #   parts, writes OUTDIR/{webgpu.json,torch.json,summary.txt}
#
# Options for run (environment): GPU_BENCH_MIN_TIME (seconds per measurement, default 0.3),
# GPU_BENCH_ALLOW_SOFTWARE=1 (run on a software adapter such as lavapipe: tests this script
# without a GPU; no targets are judged then), GPU_BENCH_GRID=short (a small grid, for that test).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
KIT="$HERE/gpu-kit"
MODE="${1:-run}"

say() { printf '%s\n' "$*"; }
die() { printf 'gpu.sh: %s\n' "$*" >&2; exit 3; }

prepare() {
  command -v node >/dev/null || die "prepare needs node (this repository's toolchain)"
  [ -d "$ROOT/node_modules/webgpu" ] || die "prepare needs npm ci first (node_modules/webgpu is missing)"
  rm -rf "$KIT" && mkdir -p "$KIT/node_modules/webgpu/dist/linux-x64" "$KIT/debs" || exit 3
  say "bundling bench/kernels.ts -> $KIT/kernels-bench.mjs"
  "$ROOT/node_modules/.bin/esbuild" "$ROOT/bench/kernels.ts" --bundle --platform=node --format=esm --target=node18 \
    --external:webgpu --log-level=warning \
    --banner:js="import { createRequire as __bsCreateRequire } from 'node:module'; const require = __bsCreateRequire(import.meta.url);" \
    --outfile="$KIT/kernels-bench.mjs" || die "esbuild failed"
  local wg="$ROOT/node_modules/webgpu"
  cp "$wg/package.json" "$wg/index.js" "$KIT/node_modules/webgpu/" &&
    cp "$wg/dist/linux-x64/dawn.node" "$KIT/node_modules/webgpu/dist/linux-x64/" || die "copying dawn.node failed"
  say "compressing $(command -v node) ($(node -v)) -> $KIT/node.xz"
  xz -T0 -6 -c "$(readlink -f "$(command -v node)")" >"$KIT/node.xz" || die "xz failed"
  (cd "$KIT/debs" && apt-get download libvulkan1 >/dev/null 2>&1) || say "warning: apt-get download libvulkan1 failed; the kit has no Vulkan loader"
  cp "$HERE/gpu-torch.py" "$KIT/"
  du -sh "$KIT"
  say "kit ready: copy the repository (or just bench/) to the GPU machine and run: bash bench/gpu.sh run OUTDIR"
}

# --- run ------------------------------------------------------------------------------------------

OUTDIR="${2:-$ROOT/gpu-bench-out}"
WORK="$(mktemp -d /tmp/blocksparse-gpu.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
MISSING=()
NODE=""

find_node() {
  if command -v node >/dev/null && node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'; then
    NODE="$(command -v node)"; say "node: $NODE $(node -v)"; return
  fi
  if [ -f "$KIT/node.xz" ]; then
    xz -dc "$KIT/node.xz" >"$WORK/node" && chmod +x "$WORK/node" && NODE="$WORK/node" && say "node: from the kit, $("$NODE" -v)" && return
  fi
  MISSING+=("Node.js >= 18 (none on PATH and no $KIT/node.xz: run 'bash bench/gpu.sh prepare' where the repository is)")
}

find_vulkan_loader() {
  if ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1'; then say "vulkan loader: system"; return; fi
  local deb
  deb="$(ls "$KIT"/debs/libvulkan1_*.deb 2>/dev/null | head -1)"
  if [ -n "$deb" ] && command -v dpkg >/dev/null; then
    dpkg -x "$deb" "$WORK/vk" && export LD_LIBRARY_PATH="$WORK/vk/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" &&
      say "vulkan loader: from the kit ($(basename "$deb"), dpkg -x)" && return
  fi
  MISSING+=("the Vulkan loader libvulkan.so.1 (not installed, and no kit .deb to unpack with dpkg -x)")
}

find_nvidia_icd() {
  local f
  for f in ${VK_DRIVER_FILES:-} ${VK_ICD_FILENAMES:-} /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json \
    /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$f" ]; then export VK_DRIVER_FILES="$f"; say "nvidia vulkan driver: $f"; return; fi
  done
  # The driver is mounted but its ICD manifest is not: write one that names libGLX_nvidia.
  local lib
  lib="$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia.so.0/ {print $NF; exit}')"
  [ -z "$lib" ] && lib="$(ls /usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0 /usr/local/nvidia/lib64/libGLX_nvidia.so.0 2>/dev/null | head -1)"
  if [ -n "$lib" ]; then
    printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3"}}\n' "$lib" >"$WORK/nvidia_icd.json"
    export VK_DRIVER_FILES="$WORK/nvidia_icd.json"; say "nvidia vulkan driver: wrote an ICD manifest for $lib"; return
  fi
  if [ "${GPU_BENCH_ALLOW_SOFTWARE:-0}" = 1 ]; then say "nvidia vulkan driver: none (GPU_BENCH_ALLOW_SOFTWARE=1: any adapter)"; return; fi
  MISSING+=("the NVIDIA Vulkan driver (no nvidia_icd.json and no libGLX_nvidia.so.0)")
}

find_gpu() {
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then say "gpu: $(nvidia-smi -L | head -1)"; return; fi
  if [ "${GPU_BENCH_ALLOW_SOFTWARE:-0}" = 1 ]; then say "gpu: none (GPU_BENCH_ALLOW_SOFTWARE=1)"; return; fi
  MISSING+=("an NVIDIA GPU (nvidia-smi finds none)")
}

TORCH_OK=0
find_torch() {
  if command -v python3 >/dev/null && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    TORCH_OK=1; say "pytorch: $(python3 -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0))')"
  else
    say "pytorch: missing or without CUDA (python3 -c 'import torch' failed): the PyTorch comparison is skipped"
  fi
}

SCRIPT=""
find_bench() {
  if [ -f "$KIT/kernels-bench.mjs" ]; then SCRIPT="$KIT/kernels-bench.mjs"; say "benchmark: $SCRIPT"; return; fi
  if [ -d "$ROOT/node_modules/tsx" ]; then SCRIPT="--import tsx $ROOT/bench/kernels.ts"; say "benchmark: bench/kernels.ts through tsx"; return; fi
  MISSING+=("the benchmark ($KIT/kernels-bench.mjs: run 'bash bench/gpu.sh prepare' where the repository is)")
}

run() {
  say "== prerequisites"
  find_gpu; find_node; find_vulkan_loader; find_nvidia_icd; find_torch; find_bench
  if [ ${#MISSING[@]} -gt 0 ]; then
    say "missing:"; printf '  - %s\n' "${MISSING[@]}"; exit 3
  fi
  mkdir -p "$OUTDIR" || exit 3
  local minTime="${GPU_BENCH_MIN_TIME:-0.3}"
  local grid=()
  if [ "${GPU_BENCH_GRID:-full}" = short ]; then grid=(--block-sizes 32 --densities 1,0.1 --batches 64 --features 1024); fi
  say "== our WGSL kernels (sparse vs our dense)"
  # shellcheck disable=SC2086
  (cd "$ROOT" && "$NODE" $SCRIPT --backend webgpu --no-numpy --min-time "$minTime" "${grid[@]}" --json "$OUTDIR/webgpu.json") 2>"$OUTDIR/webgpu.log" | tee "$OUTDIR/webgpu.txt"
  [ -f "$OUTDIR/webgpu.json" ] || { tail -20 "$OUTDIR/webgpu.log"; die "the WebGPU benchmark failed (log: $OUTDIR/webgpu.log)"; }
  if [ "$TORCH_OK" = 1 ]; then
    say "== PyTorch fp32 dense (TF32 off), the same shapes"
    python3 "$HERE/gpu-torch.py" "$OUTDIR/webgpu.json" "$OUTDIR/torch.json" | tee "$OUTDIR/torch.txt"
  fi
  say "== summary"
  "$NODE" -e '
    const fs = require("fs");
    const [ours, torchFile, software] = process.argv.slice(1);
    const o = JSON.parse(fs.readFileSync(ours, "utf8"));
    const t = fs.existsSync(torchFile) ? JSON.parse(fs.readFileSync(torchFile, "utf8")) : null;
    const lines = [`adapter: ${o.backend}`];
    const judge = (ok) => (software === "1" ? "(software adapter: not judged)" : ok ? "met" : "MISSED");
    for (const r of o.rows.filter((r) => r.blockSize === 32 && r.density === 0.1)) {
      const x = r.denseSeconds / r.seconds;
      lines.push(`sparse bs32 d=0.1 N=${r.batch}: ${(r.seconds * 1e3).toFixed(3)} ms, ${x.toFixed(2)}x faster than our dense (${(r.denseSeconds * 1e3).toFixed(3)} ms); target >= 5x: ${judge(x >= 5)}`);
    }
    if (t) for (const [n, s] of Object.entries(t.seconds)) {
      const r = o.rows.find((r) => String(r.batch) === n);
      if (!r) continue;
      const f = s / r.denseSeconds;
      lines.push(`dense N=${n}: ours ${(r.denseSeconds * 1e3).toFixed(3)} ms (${r.denseGflops.toFixed(0)} GFLOP/s), PyTorch fp32 ${(s * 1e3).toFixed(3)} ms (${(2 * n * o.grid.features ** 2 / s / 1e9).toFixed(0)} GFLOP/s): ours = ${(100 * f).toFixed(1)}% of PyTorch; target >= 30%: ${judge(f >= 0.3)}`);
    }
    console.log(lines.join("\n"));
  ' "$OUTDIR/webgpu.json" "$OUTDIR/torch.json" "${GPU_BENCH_ALLOW_SOFTWARE:-0}" | tee "$OUTDIR/summary.txt"
}

case "$MODE" in
  prepare) prepare ;;
  run) run ;;
  *) die "usage: bash bench/gpu.sh prepare | run [OUTDIR]" ;;
esac
