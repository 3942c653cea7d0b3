#!/usr/bin/env bash
# The GPU benchmark kit: prepare here, run there (docs/gpu-benchmark.md says how, and what each
# line and each failure means).
#
#   bash bench/gpu.sh prepare        # here (network: npm's tree and Debian's apt): builds the
#                                    # git-ignored kit bench/gpu-kit/ (about 30 MiB): the benchmark
#                                    # and the adapter probe bundled by esbuild, dawn.node and node
#                                    # compressed with xz, and the .deb files of every runtime
#                                    # library a bare machine may lack (Vulkan loader, X11 client
#                                    # libraries, glvnd, libstdc++)
#   bash bench/gpu.sh run [OUTDIR]   # there (no network): the probe first, then PyTorch's fp32
#                                    # dense as a peer when present, then our kernels; writes
#                                    # OUTDIR/{results.json,results.txt,run.log} (OUTDIR: $OUT when
#                                    # set, else gpu-bench-out/)
#
# On the device tool: carry ["bench/gpu-kit"], command `bash bench/gpu.sh run`, timeout_s 240.
#
# Environment, run: GPU_BENCH_TIMEOUT (seconds for the whole run, default 170), GPU_BENCH_GRID
# (full, targets or tiny; default full, tiny on a software adapter), GPU_BENCH_MIN_TIME (seconds
# per measurement, default 0.3), GPU_BENCH_ROBUSTNESS=on (keep Dawn's bounds clamping, which the
# benchmark turns off as `blocksparse bench` does), GPU_BENCH_ALLOW_SOFTWARE=1 (run on lavapipe or
# SwiftShader; nothing is judged), GPU_BENCH_USE_KIT_LIBS=all (use every kit library even where
# the system has one: tests the kit's libraries), GPU_BENCH_NVIDIA_DIRS and GPU_BENCH_ICD_DIRS
# (where to look for the NVIDIA driver's libraries and Vulkan manifests). Prepare: GPU_KIT_DIR
# (default bench/gpu-kit, for run too), GPU_KIT_NODE=system (do not pack node: run uses the node on
# PATH; for tests).
#
# Exit status: 0 done (targets met or not), 2 usage, 3 a prerequisite is missing (named), 4 only a
# software adapter and no GPU_BENCH_ALLOW_SOFTWARE=1, 5 Dawn found no adapter, 6 the benchmark
# failed (partial results kept), 7 GPU_BENCH_TIMEOUT fired (partial results kept).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
KIT="${GPU_KIT_DIR:-$HERE/gpu-kit}"
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"

# The packages whose libraries a bare machine may lack: the Vulkan loader; the X11 client libraries
# that NVIDIA's libGLX_nvidia links, and theirs; glvnd's libGLdispatch, which libGLX_nvidia and
# libEGL_nvidia link, and libEGL; libstdc++ with GLIBCXX_3.4.30 for dawn.node.
KIT_PACKAGES=(libvulkan1 libx11-6 libxext6 libx11-xcb1 libxcb1 libxau6 libxdmcp6 libbsd0 libmd0 libglvnd0 libegl1 libstdc++6 libgcc-s1)
# The libraries the probe checks and the kit can supply (libstdc++ is checked by symbol version).
KIT_SONAMES=(libvulkan.so.1 libX11.so.6 libXext.so.6 libX11-xcb.so.1 libxcb.so.1 libXau.so.6 libXdmcp.so.6 libbsd.so.0 libmd.so.0 libGLdispatch.so.0 libEGL.so.1)
EXIT_USAGE=2 EXIT_MISSING=3 EXIT_SOFTWARE=4 EXIT_NO_ADAPTER=5 EXIT_BENCH=6 EXIT_TIMEOUT=7

say() { printf '%s\n' "$*"; }
# A probe line: a key in a column, then what was found (kept in $PROBE_FILE for results.txt too).
PROBE_FILE=""
line() {
  printf '%-14s %s\n' "$1" "$2"
  [ -z "$PROBE_FILE" ] || printf '%-14s %s\n' "$1" "$2" >>"$PROBE_FILE"
}
die() { local code="$1"; shift; printf 'gpu.sh: %s\n' "$*" >&2; exit "$code"; }
have() { command -v "$1" >/dev/null 2>&1; }
# The arguments after the first, joined by the first.
join() { local sep="$1" out="" x; shift; for x in "$@"; do out="${out:+$out$sep}$x"; done; say "$out"; }

# --- prepare (here) -------------------------------------------------------------------------------

prepare() {
  [ "$(uname -m)" = x86_64 ] || die $EXIT_MISSING "prepare must run on x86-64: the kit carries x86-64 binaries (node, dawn.node, .debs)"
  local t missing=()
  for t in node xz apt-get dpkg-deb du sed sha256sum; do have "$t" || missing+=("$t"); done
  [ ${#missing[@]} -eq 0 ] || die $EXIT_MISSING "prepare needs these tools, missing here: ${missing[*]}"
  local wg="$ROOT/node_modules/webgpu" esbuild="$ROOT/node_modules/.bin/esbuild"
  if ! { [ -f "$wg/dist/linux-x64/dawn.node" ] && [ -x "$esbuild" ]; }; then
    die $EXIT_MISSING "prepare needs 'npm ci' first (node_modules/webgpu or node_modules/.bin/esbuild is missing)"
  fi
  rm -rf "$KIT"
  mkdir -p "$KIT/webgpu" "$KIT/debs" || die $EXIT_MISSING "cannot create $KIT"

  say "bundling bench/gpu-bench.ts and bench/gpu-probe.ts -> $KIT/"
  "$esbuild" "$HERE/gpu-bench.ts" "$HERE/gpu-probe.ts" --bundle --platform=node --format=esm --target=node18 \
    --external:webgpu --log-level=warning --outdir="$KIT" --out-extension:.js=.mjs \
    --banner:js="import { createRequire as __bsCreateRequire } from 'node:module'; const require = __bsCreateRequire(import.meta.url);" ||
    die $EXIT_MISSING "esbuild failed (does the tree type-check? npx tsc -p tsconfig.json --noEmit)"
  for t in gpu-bench.mjs gpu-probe.mjs; do node --check "$KIT/$t" || die $EXIT_MISSING "the bundle $t does not parse"; done
  cp "$HERE/gpu-torch.py" "$KIT/" || die $EXIT_MISSING "copying gpu-torch.py failed"

  say "packing dawn.node (xz) and the webgpu package's loader"
  cp "$wg/package.json" "$wg/index.js" "$KIT/webgpu/" || die $EXIT_MISSING "copying the webgpu package failed"
  xz -T0 -3 --block-size=6MiB -c "$wg/dist/linux-x64/dawn.node" >"$KIT/webgpu/dawn.node.xz" || die $EXIT_MISSING "xz failed on dawn.node"

  local node_desc
  if [ "${GPU_KIT_NODE:-pack}" = system ]; then
    node_desc="system (GPU_KIT_NODE=system: run uses the node on PATH)"
    say "node: not packed (GPU_KIT_NODE=system)"
  else
    local node_bin
    node_bin="$(readlink -f "$(command -v node)")"
    node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' || die $EXIT_MISSING "node >= 18 is needed here ($(node -v))"
    if have ldd && ldd "$node_bin" 2>/dev/null | grep -q 'libnode\.so'; then
      die $EXIT_MISSING "$node_bin links libnode.so (a distribution build that cannot travel alone): put an official Node.js build first on PATH"
    fi
    say "packing $node_bin ($(node -v)) with xz (about 30 s)"
    xz -T0 -6 -c "$node_bin" >"$KIT/node.xz" || die $EXIT_MISSING "xz failed on node"
    node_desc="$(node -v) (xz)"
  fi

  say "downloading the runtime libraries' .debs: ${KIT_PACKAGES[*]}"
  if ! (cd "$KIT/debs" && apt-get download "${KIT_PACKAGES[@]}" >"$KIT/debs/apt.log" 2>&1); then
    cat "$KIT/debs/apt.log" >&2
    die $EXIT_MISSING "apt-get download failed for some of: ${KIT_PACKAGES[*]} (run 'apt-get update' first; the kit needs every one)"
  fi
  rm -f "$KIT/debs/apt.log"
  # Which deb holds which library (run links only the libraries the machine lacks).
  local deb so
  for deb in "$KIT"/debs/*.deb; do
    dpkg-deb -c "$deb" | sed -n 's|.* \./\(\(usr/\)\{0,1\}lib/x86_64-linux-gnu/\([^/ ]*\.so\.[0-9][0-9]*\)\)\( .*\)\{0,1\}$|\3 \1|p' |
      while read -r so rel; do printf '%s %s %s\n' "$so" "$(basename "$deb")" "$rel"; done
  done >"$KIT/debs/SONAMES"
  for so in "${KIT_SONAMES[@]}" libstdc++.so.6; do
    grep -q "^$so " "$KIT/debs/SONAMES" || die $EXIT_MISSING "no kit .deb holds $so (see $KIT/debs/SONAMES)"
  done

  local commit="unknown"
  if have git && git -C "$ROOT" rev-parse --short HEAD >/dev/null 2>&1; then
    commit="$(git -C "$ROOT" rev-parse --short HEAD)"
    git -C "$ROOT" diff-index --quiet HEAD -- src bench 2>/dev/null || commit="$commit+changes (src or bench differ from it)"
  fi
  {
    say "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    say "commit=$commit"
    say "node=$node_desc"
    # run refuses a kit whose gpu.sh differs from the one that runs it (an untested pairing).
    say "script=$(sha256sum "$SELF" | cut -d' ' -f1)"
    say "webgpu=$(node -p 'require(process.argv[1]).version' "$wg/package.json")"
    say "debs=$(for deb in "$KIT"/debs/*.deb; do printf '%s ' "$(basename "$deb")"; done)"
  } >"$KIT/MANIFEST"

  local kit_bytes tree_bytes=""
  kit_bytes="$(du -sb "$KIT" | cut -f1)"
  if have git && git -C "$ROOT" rev-parse >/dev/null 2>&1; then
    tree_bytes="$(cd "$ROOT" && git ls-files -z -co --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')"
  fi
  local mib=$((1024 * 1024))
  in_mib() { say "$(($1 / mib)).$(((($1 % mib) * 10) / mib)) MiB"; }
  if [ -n "$tree_bytes" ]; then
    local total=$((kit_bytes + tree_bytes))
    say "kit size: $(in_mib "$kit_bytes"); with the working tree $(in_mib "$total") of the device tool's 64 MiB"
    [ "$total" -le $((64 * mib)) ] || die $EXIT_MISSING "the kit and the working tree exceed the device tool's 64 MiB"
    [ "$total" -le $((56 * mib)) ] || say "warning: less than 8 MiB left under the device tool's 64 MiB"
  else
    say "kit size: $(in_mib "$kit_bytes") (no git here: the working tree's size is not known)"
  fi
  say "kit ready in $KIT. On the GPU machine: bash bench/gpu.sh run [OUTDIR] (device tool: carry [\"bench/gpu-kit\"], timeout_s 240)"
}

# --- run (there) ----------------------------------------------------------------------------------

# The outer part: one overall timeout around everything, the log, and the timeout's message.
run_outer() {
  local outdir="${1:-${OUT:-$ROOT/gpu-bench-out}}" limit="${GPU_BENCH_TIMEOUT:-170}" t missing=()
  case "$limit" in '' | *[!0-9]*) die $EXIT_USAGE "GPU_BENCH_TIMEOUT must be whole seconds, got '$limit'" ;; esac
  [ "$limit" -ge 1 ] || die $EXIT_USAGE "GPU_BENCH_TIMEOUT must be at least 1 second"
  # The other settings are checked now, not after the probe has spent its time.
  case "${GPU_BENCH_GRID:-auto}" in auto | full | targets | tiny) ;; *) die $EXIT_USAGE "GPU_BENCH_GRID must be full, targets or tiny, got '$GPU_BENCH_GRID'" ;; esac
  case "${GPU_BENCH_ROBUSTNESS:-off}" in on | off) ;; *) die $EXIT_USAGE "GPU_BENCH_ROBUSTNESS must be on or off, got '$GPU_BENCH_ROBUSTNESS'" ;; esac
  [[ "${GPU_BENCH_MIN_TIME:-0.3}" =~ ^[0-9]*\.?[0-9]+$ ]] || die $EXIT_USAGE "GPU_BENCH_MIN_TIME must be seconds, got '$GPU_BENCH_MIN_TIME'"
  for t in timeout tee mktemp; do have "$t" || missing+=("$t"); done
  [ ${#missing[@]} -eq 0 ] || die $EXIT_MISSING "missing tool(s): ${missing[*]} (coreutils; the run cannot start without them)"
  mkdir -p "$outdir" || die $EXIT_MISSING "cannot create $outdir"
  outdir="$(cd "$outdir" && pwd)"
  rm -f "$outdir/results.json" "$outdir/results.txt" "$outdir/run.log" "$outdir"/results.*.tmp
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/blocksparse-gpu.XXXXXX")" || die $EXIT_MISSING "mktemp failed (is ${TMPDIR:-/tmp} writable?)"
  trap 'rm -rf "$WORK"' EXIT
  # timeout puts the run in its own process group and signals the whole group: node and python too.
  timeout -k 5 "$limit" "$BASH" "$SELF" _inner "$outdir" "$WORK" 2>&1 | tee "$outdir/run.log"
  local rc="${PIPESTATUS[0]}"
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    rm -f "$outdir"/results.*.tmp
    local msg="gpu.sh: TIMEOUT: the whole run passed GPU_BENCH_TIMEOUT=$limit s and was stopped (exit $EXIT_TIMEOUT); the rows finished before it are kept in $outdir/results.json (\"complete\": false) and results.txt"
    say "$msg" | tee -a "$outdir/run.log" >&2
    { say ""; say "$msg"; } >>"$outdir/results.txt"
    exit $EXIT_TIMEOUT
  fi
  exit "$rc"
}

# A library the system has, by soname: its path from the loader's cache, LD_LIBRARY_PATH or the usual
# folders; empty when none.
system_lib() {
  local so="$1" dir
  if [ -n "$LDCACHE" ]; then
    local hit
    hit="$(printf '%s\n' "$LDCACHE" | grep -F "	$so (" | grep -F 'x86-64' | head -1 | sed 's/.*=> //')"
    [ -n "$hit" ] && { say "$hit"; return; }
  fi
  local IFS=:
  for dir in ${ORIGINAL_LD_LIBRARY_PATH:-} /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /lib64 /usr/lib64 /lib /usr/lib; do
    [ -n "$dir" ] && [ -e "$dir/$so" ] && { say "$dir/$so"; return; }
  done
}

# The first file of the NVIDIA driver matching a name pattern (libGLX_nvidia.so.0, libnvidia-glcore.so.*).
nvidia_lib() {
  local pattern="$1" dir f
  if [ -n "$LDCACHE" ] && [ -z "${GPU_BENCH_NVIDIA_DIRS:-}" ]; then
    local re="${pattern//./\\.}"
    re="${re//\*/[^ ]*}"
    f="$(printf '%s\n' "$LDCACHE" | grep -E "^[[:space:]]+$re \(" | grep -F 'x86-64' | head -1 | sed 's/.*=> //')"
    [ -n "$f" ] && { say "$f"; return; }
  fi
  for dir in $NVIDIA_DIRS; do
    for f in "$dir"/$pattern; do [ -e "$f" ] && { say "$f"; return; }; done
  done
}

# A kit library, once unpacked: $WORK/lib/<soname> -> the file in the unpacked .deb.
declare -A KIT_DEB=() KIT_REL=() UNPACKED=()
KIT_USED=()
plan_kit_lib() { # records that the kit's copy of a soname is to be linked; false when the kit has none
  [ -n "${KIT_DEB[$1]:-}" ] || return 1
  KIT_USED+=("$1")
}
link_kit_lib() {
  local so="$1" deb="${KIT_DEB[$1]}"
  have dpkg || die $EXIT_MISSING "the tool dpkg is missing (to unpack the kit's $deb with dpkg -x for $so)"
  if [ -z "${UNPACKED[$deb]:-}" ]; then
    dpkg -x "$KIT/debs/$deb" "$WORK/prefix" || die $EXIT_MISSING "dpkg -x $deb failed"
    UNPACKED[$deb]=1
  fi
  ln -sf "$WORK/prefix/${KIT_REL[$so]}" "$WORK/lib/$so"
}

# Unpacks an .xz file: with xz, or with python3's lzma where xz is absent (XZ_BY_PYTHON=1).
XZ_BY_PYTHON=0
unxz_to() {
  if [ "$XZ_BY_PYTHON" = 1 ]; then
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"), 1 << 20)' "$1" "$2"
  else
    xz -dc "$1" >"$2"
  fi
}

run_inner() {
  OUTDIR="$1" WORK="$2"
  PROBE_FILE="$WORK/probe.txt"
  ORIGINAL_LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"
  NVIDIA_DIRS="${GPU_BENCH_NVIDIA_DIRS:-/usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib/x86_64-linux-gnu/nvidia/current /lib/x86_64-linux-gnu}"
  local icd_dirs="${GPU_BENCH_ICD_DIRS:-/usr/local/nvidia/share/vulkan/icd.d /etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d /etc/xdg/vulkan/icd.d}"
  local force_kit=0 missing=() t
  [ "${GPU_BENCH_USE_KIT_LIBS:-}" = all ] && force_kit=1
  local ldconfig_bin
  ldconfig_bin="$(command -v ldconfig)"
  for t in /sbin/ldconfig /usr/sbin/ldconfig; do [ -n "$ldconfig_bin" ] || [ ! -x "$t" ] || ldconfig_bin="$t"; done
  LDCACHE=""
  [ -n "$ldconfig_bin" ] && LDCACHE="$("$ldconfig_bin" -p 2>/dev/null)"

  say "== probe (bench/gpu.sh run, $(date -u +%Y-%m-%dT%H:%M:%SZ))"
  # The kit.
  if [ -f "$KIT/MANIFEST" ]; then
    line "kit:" "$KIT: $(sed -n 's/^built=//p' "$KIT/MANIFEST") from commit $(sed -n 's/^commit=//p' "$KIT/MANIFEST"), node $(sed -n 's/^node=//p' "$KIT/MANIFEST"), webgpu $(sed -n 's/^webgpu=//p' "$KIT/MANIFEST")"
    local sum=""
    have sha256sum && sum="$(sha256sum "$SELF")" && sum="${sum%% *}"
    if [ -n "$sum" ] && [ "$(sed -n 's/^script=//p' "$KIT/MANIFEST")" != "$sum" ]; then
      line "kit:" "STALE: bench/gpu.sh changed since the kit was prepared"
      missing+=("a kit prepared with this bench/gpu.sh (it changed since: run 'bash bench/gpu.sh prepare' again)")
    fi
  else
    line "kit:" "MISSING: no $KIT/MANIFEST"
    missing+=("the kit ($KIT/MANIFEST is missing: run 'bash bench/gpu.sh prepare' where the repository and network are, and carry bench/gpu-kit)")
  fi
  # The GPU, by the driver's own tool.
  GPU_NAME="" GPU_LINE=""
  if have nvidia-smi; then
    GPU_LINE="$(timeout --foreground 20 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -1)"
    if [ -n "$GPU_LINE" ] && [[ "$GPU_LINE" != *"NVIDIA-SMI has failed"* ]] && [[ "$GPU_LINE" != *"No devices"* ]]; then
      GPU_NAME="${GPU_LINE%%,*}"
      line "gpu:" "$GPU_LINE (nvidia-smi: name, driver, memory)"
    else
      line "gpu:" "nvidia-smi answered: ${GPU_LINE:-nothing}"
      GPU_LINE=""
    fi
  else
    line "gpu:" "none seen (no nvidia-smi on PATH)"
  fi
  # glibc and libstdc++, which dawn.node needs (>= 2.34 and GLIBCXX_3.4.30).
  local glibc=""
  if have getconf; then glibc="$(getconf GNU_LIBC_VERSION 2>/dev/null | sed -n 's/^glibc //p')"; fi
  if [ -z "$glibc" ] && have ldd; then glibc="$(ldd --version 2>&1 | head -1 | grep -o '[0-9]\+\.[0-9]\+$')"; fi
  if [ -z "$glibc" ]; then
    line "glibc:" "unknown (no getconf or ldd); dawn.node needs >= 2.34"
  elif [ "$(printf '%s\n2.34\n' "$glibc" | sort -V | head -1)" = 2.34 ]; then
    line "glibc:" "$glibc (dawn.node needs >= 2.34): ok"
  else
    line "glibc:" "$glibc (dawn.node needs >= 2.34): TOO OLD"
    missing+=("glibc >= 2.34 for dawn.node (this machine has $glibc; the kit cannot carry a C library)")
  fi
  local stdcxx
  stdcxx="$(system_lib libstdc++.so.6)"
  if [ "$force_kit" = 1 ] && plan_kit_lib libstdc++.so.6; then
    line "libstdc++:" "the kit's (${KIT_DEB[libstdc++.so.6]}: GPU_BENCH_USE_KIT_LIBS=all)"
  elif [ -n "$stdcxx" ] && grep -qaF GLIBCXX_3.4.30 "$(readlink -f "$stdcxx")"; then
    line "libstdc++:" "$stdcxx has GLIBCXX_3.4.30: yes"
  elif plan_kit_lib libstdc++.so.6; then
    line "libstdc++:" "${stdcxx:-none} has GLIBCXX_3.4.30: no; the kit's (${KIT_DEB[libstdc++.so.6]})"
  else
    line "libstdc++:" "${stdcxx:-none} has GLIBCXX_3.4.30: no, and the kit has none"
    missing+=("libstdc++ with GLIBCXX_3.4.30 for dawn.node")
  fi
  # NVIDIA's Vulkan driver: its manifests and libraries.
  local icds=() given=() f dir
  IFS=: read -r -a given <<<"${VK_DRIVER_FILES:-}:${VK_ICD_FILENAMES:-}"
  for f in ${given[@]+"${given[@]}"}; do [ -f "$f" ] && icds+=("$f"); done
  for dir in $icd_dirs; do
    for f in "$dir"/*nvidia*.json; do [ -f "$f" ] && icds+=("$f"); done
  done
  local api="1.3.0"
  if [ ${#icds[@]} -gt 0 ]; then
    local desc=() lib
    for f in "${icds[@]}"; do
      lib="$(sed -n 's/.*"library_path"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$f" | head -1)"
      api="$(sed -n 's/.*"api_version"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$f" | head -1)"
      desc+=("$f (library_path $lib, api_version $api)")
    done
    api="${api:-1.3.0}"
    line "icd:" "$(join '; ' "${desc[@]}")"
  else
    line "icd:" "no NVIDIA Vulkan manifest (nvidia_icd.json) in $icd_dirs"
  fi
  local glx egl vk=() name
  # The .so.0 names, else the versioned files alone (a driver folder that ldconfig never linked).
  glx="$(nvidia_lib libGLX_nvidia.so.0)"
  [ -n "$glx" ] || glx="$(nvidia_lib 'libGLX_nvidia.so.*')"
  egl="$(nvidia_lib libEGL_nvidia.so.0)"
  [ -n "$egl" ] || egl="$(nvidia_lib 'libEGL_nvidia.so.*')"
  vk=("libGLX_nvidia: ${glx:-MISSING}" "libEGL_nvidia: ${egl:-MISSING}")
  for name in 'libnvidia-glvkspirv.so.*' 'libnvidia-glcore.so.*' 'libnvidia-gpucomp.so.*'; do
    f="$(nvidia_lib "$name")"
    vk+=("${name%%.so*}: ${f:-MISSING}")
  done
  line "nvidia libs:" "$(join '; ' "${vk[@]}")"
  # The driver's folder on the library path when the loader's cache does not know it.
  local nvdir=""
  for f in "$glx" "$egl"; do
    [ -n "$f" ] || continue
    dir="$(dirname "$f")"
    if ! printf '%s\n' "$LDCACHE" | grep -qF "=> $f" && [[ ":$ORIGINAL_LD_LIBRARY_PATH:" != *":$dir:"* ]]; then nvdir="$dir"; fi
  done
  [ -n "$nvdir" ] && line "nvidia dir:" "$nvdir is not in the loader's cache: put on LD_LIBRARY_PATH"
  # The libraries the kit can supply: the system's where it has them, else the kit's.
  if [ -f "$KIT/debs/SONAMES" ]; then
    local so deb rel
    while read -r so deb rel; do KIT_DEB[$so]="$deb"; KIT_REL[$so]="$rel"; done <"$KIT/debs/SONAMES"
  fi
  local so found report=()
  for so in "${KIT_SONAMES[@]}"; do
    found="$(system_lib "$so")"
    if [ "$force_kit" = 1 ] && plan_kit_lib "$so"; then
      report+=("$so kit (forced)")
    elif [ -n "$found" ]; then
      report+=("$so system")
    elif plan_kit_lib "$so"; then
      report+=("$so kit (${KIT_DEB[$so]%%_*})")
    else
      report+=("$so MISSING")
      [ "$so" = libvulkan.so.1 ] && missing+=("the Vulkan loader libvulkan.so.1 (not on this machine and not in the kit: run prepare again)")
    fi
  done
  line "vulkan loader:" "${report[0]}"
  line "x11 libs:" "$(join '; ' "${report[@]:1:8}")"
  line "glvnd libs:" "$(join '; ' "${report[@]:9}")"
  # The tools the run calls.
  local tools=(grep sed sort head tail tr env cp ln chmod readlink dirname basename date)
  [ -f "$KIT/node.xz" ] || [ -f "$KIT/webgpu/dawn.node.xz" ] && tools+=(xz)
  [ ${#KIT_USED[@]} -gt 0 ] && tools+=(dpkg)
  local xz_note=""
  for t in "${tools[@]}"; do
    if ! have "$t"; then
      case "$t" in
        xz)
          if have python3 && python3 -c 'import lzma' 2>/dev/null; then
            XZ_BY_PYTHON=1 xz_note="; xz absent: python3's lzma unpacks instead"
          else
            missing+=("the tool xz (to unpack node.xz and dawn.node.xz from the kit; python3 with lzma, the fallback, is absent too: install xz-utils, or carry an xz binary on PATH)")
          fi
          ;;
        dpkg) missing+=("the tool dpkg (to unpack the kit's .debs with dpkg -x: ${KIT_USED[*]})") ;;
        *) missing+=("the tool $t") ;;
      esac
    fi
  done
  local optional=() o
  for o in nvidia-smi ldd getconf python3; do have "$o" || optional+=("$o"); done
  [ -n "$ldconfig_bin" ] || optional+=(ldconfig)
  local tool_state=ok
  [ ${#missing[@]} -eq 0 ] || tool_state="see 'missing' below"
  line "tools:" "${tools[*]}: $tool_state$xz_note${optional[*]:+; absent (optional): ${optional[*]}}"
  # Node: the kit's, else the machine's.
  NODE=""
  if [ ${#missing[@]} -eq 0 ]; then
    if [ -f "$KIT/node.xz" ]; then
      unxz_to "$KIT/node.xz" "$WORK/node" || die $EXIT_MISSING "unpacking node.xz failed (disk full?)"
      chmod +x "$WORK/node"
      "$WORK/node" -v >/dev/null 2>&1 || die $EXIT_MISSING "cannot execute $WORK/node (is ${TMPDIR:-/tmp} mounted noexec? set TMPDIR to another folder)"
      NODE="$WORK/node"
    elif have node && node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' 2>/dev/null; then
      NODE="$(command -v node)"
    else
      missing+=("node >= 18 (the kit has no node.xz and PATH has none: prepare without GPU_KIT_NODE=system)")
    fi
    [ -n "$NODE" ] && line "node:" "$NODE $("$NODE" -v)"
  fi
  if [ -f "$KIT/MANIFEST" ] && ! { [ -f "$KIT/gpu-bench.mjs" ] && [ -f "$KIT/gpu-probe.mjs" ] && [ -f "$KIT/webgpu/dawn.node.xz" ]; }; then
    missing+=("the kit's files (gpu-bench.mjs, gpu-probe.mjs, webgpu/dawn.node.xz): run prepare again")
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    say "missing:"
    printf '  - %s\n' "${missing[@]}"
    die $EXIT_MISSING "cannot run: $(printf '%s; ' "${missing[@]}" | sed 's/; $//')"
  fi

  # Set up: the kit's webgpu package and libraries under $WORK, the library path, the manifests.
  mkdir -p "$WORK/kit/node_modules/webgpu/dist/linux-x64" "$WORK/lib" "$WORK/prefix" "$WORK/icd"
  if ! { cp "$KIT/gpu-bench.mjs" "$KIT/gpu-probe.mjs" "$WORK/kit/" && cp "$KIT/webgpu/package.json" "$KIT/webgpu/index.js" "$WORK/kit/node_modules/webgpu/" &&
    unxz_to "$KIT/webgpu/dawn.node.xz" "$WORK/kit/node_modules/webgpu/dist/linux-x64/dawn.node"; }; then
    die $EXIT_MISSING "unpacking the kit's webgpu package failed (disk full?)"
  fi
  for so in ${KIT_USED[@]+"${KIT_USED[@]}"}; do link_kit_lib "$so"; done
  export LD_LIBRARY_PATH="$WORK/lib${nvdir:+:$nvdir}${ORIGINAL_LD_LIBRARY_PATH:+:$ORIGINAL_LD_LIBRARY_PATH}"
  [ ${#KIT_USED[@]} -gt 0 ] && line "kit libs:" "${KIT_USED[*]} from $(for d in "${!UNPACKED[@]}"; do printf '%s ' "$d"; done)(dpkg -x into $WORK/prefix)"
  line "library path:" "$LD_LIBRARY_PATH"
  # What the driver and dawn.node link, and whether it resolves now; the kit fills what it can.
  if have ldd; then
    local target unresolved added out more=()
    # Three rounds: a library the kit supplies may need another one (libX11 -> libxcb -> libXau).
    for _ in 1 2 3; do
      added=0
      for target in "$glx" "$egl" "$WORK/kit/node_modules/webgpu/dist/linux-x64/dawn.node"; do
        [ -n "$target" ] || continue
        for so in $(ldd "$target" 2>/dev/null | sed -n 's/^[[:space:]]*\([^ ]*\) => not found.*/\1/p'); do
          if [ -n "${KIT_DEB[$so]:-}" ] && [ ! -e "$WORK/lib/$so" ]; then KIT_USED+=("$so"); more+=("$so"); link_kit_lib "$so"; added=1; fi
        done
      done
      [ "$added" = 1 ] || break
    done
    [ ${#more[@]} -eq 0 ] || line "kit libs:" "also ${more[*]} (ldd found them unresolved)"
    for target in "$glx" "$egl" "$WORK/kit/node_modules/webgpu/dist/linux-x64/dawn.node"; do
      [ -n "$target" ] || continue
      out="$(ldd "$target" 2>&1)"
      unresolved="$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*\([^ ]*\) => not found.*/\1/p' | tr '\n' ' ')"
      if printf '%s\n' "$out" | grep -q 'not a dynamic executable'; then
        line "ldd:" "$(basename "$target"): NOT A SHARED LIBRARY ($target)"
      else
        line "ldd:" "$(basename "$target"): ${unresolved:+UNRESOLVED }${unresolved:-all dependencies found}"
      fi
    done
  else
    line "ldd:" "absent: the libraries' dependencies are not checked"
  fi
  # Manifests to try, in order: the system's, then ones written here for libGLX_nvidia (GLX) and
  # libEGL_nvidia (EGL) by absolute path, then the loader's own search.
  local cands=() labels=()
  for f in ${icds[@]+"${icds[@]}"}; do cands+=("$f"); labels+=("the manifest $f"); done
  if [ -n "$glx" ]; then
    printf '{\n  "file_format_version": "1.0.0",\n  "ICD": { "library_path": "%s", "api_version": "%s" }\n}\n' "$glx" "$api" >"$WORK/icd/nvidia_icd_glx.json"
    cands+=("$WORK/icd/nvidia_icd_glx.json"); labels+=("a manifest written for $glx (GLX variant)")
  fi
  if [ -n "$egl" ]; then
    printf '{\n  "file_format_version": "1.0.0",\n  "ICD": { "library_path": "%s", "api_version": "%s" }\n}\n' "$egl" "$api" >"$WORK/icd/nvidia_icd_egl.json"
    cands+=("$WORK/icd/nvidia_icd_egl.json"); labels+=("a manifest written for $egl (EGL variant)")
  fi
  cands+=(""); labels+=("the Vulkan loader's own search (VK_DRIVER_FILES and VK_ICD_FILENAMES unset)")
  if [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ] && [ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ]; then
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    line "egl vendor:" "$__EGL_VENDOR_LIBRARY_FILENAMES (__EGL_VENDOR_LIBRARY_FILENAMES, for libEGL_nvidia)"
  fi

  # The adapter Dawn finds, trying each manifest until a hardware adapter answers.
  local i chosen="" chosen_label="" chosen_out="" soft="" soft_label="" soft_out="" soft_seen=0 out prc
  for i in "${!cands[@]}"; do
    say "adapter try $((i + 1))/${#cands[@]}: ${labels[$i]}"
    if [ -n "${cands[$i]}" ]; then
      out="$(VK_DRIVER_FILES="${cands[$i]}" VK_ICD_FILENAMES="${cands[$i]}" timeout --foreground 60 "$NODE" "$WORK/kit/gpu-probe.mjs" 2>&1)"; prc=$?
    else
      out="$(env -u VK_DRIVER_FILES -u VK_ICD_FILENAMES timeout --foreground 60 "$NODE" "$WORK/kit/gpu-probe.mjs" 2>&1)"; prc=$?
    fi
    # shellcheck disable=SC2001
    printf '%s\n' "$out" | sed -e '/^[[:space:]]*$/d' -e 's/^/  /'
    case "$prc" in
      0) chosen="${cands[$i]}"; chosen_label="${labels[$i]}"; chosen_out="$out"; break ;;
      10) [ "$soft_seen" = 1 ] || { soft="${cands[$i]}"; soft_label="${labels[$i]}"; soft_out="$out"; soft_seen=1; } ;;
      11 | 12) ;;
      124) say "  (the probe hung for 60 s)" ;;
      *) say "  (the probe exited with status $prc)" ;;
    esac
  done
  SOFTWARE=0
  if [ -z "$chosen_label" ]; then
    if [ "$soft_seen" = 1 ] && [ "${GPU_BENCH_ALLOW_SOFTWARE:-0}" = 1 ]; then
      chosen="$soft"; chosen_label="$soft_label"; chosen_out="$soft_out"; SOFTWARE=1
      say "adapter: a software one, accepted (GPU_BENCH_ALLOW_SOFTWARE=1) with ${chosen_label}: nothing is judged"
    elif [ "$soft_seen" = 1 ]; then
      die $EXIT_SOFTWARE "refused: the only adapter Dawn finds is a software one (see the adapter line above); the full grid would take hours there and nothing would be judged. Set GPU_BENCH_ALLOW_SOFTWARE=1 to run on it anyway (docs/gpu-benchmark.md)"
    else
      say "no adapter with any manifest; the Vulkan loader's messages for the first one:"
      if [ -n "${cands[0]}" ]; then
        VK_LOADER_DEBUG=error,warn,driver VK_DRIVER_FILES="${cands[0]}" VK_ICD_FILENAMES="${cands[0]}" timeout --foreground 60 "$NODE" "$WORK/kit/gpu-probe.mjs" 2>&1 | tail -40 | sed 's/^/  /'
      else
        VK_LOADER_DEBUG=error,warn,driver timeout --foreground 60 "$NODE" "$WORK/kit/gpu-probe.mjs" 2>&1 | tail -40 | sed 's/^/  /'
      fi
      die $EXIT_NO_ADAPTER "Dawn found no adapter (see the adapter tries and the loader's messages above; docs/gpu-benchmark.md, 'no adapter')"
    fi
  else
    say "adapter: chosen with ${chosen_label}"
  fi
  printf '%s\n' "$chosen_out" | grep -E '^(adapter|features|limits):' >>"$PROBE_FILE"
  printf 'manifest:      %s\n' "$chosen_label" >>"$PROBE_FILE"
  if [ -n "$chosen" ]; then export VK_DRIVER_FILES="$chosen" VK_ICD_FILENAMES="$chosen"; else unset VK_DRIVER_FILES VK_ICD_FILENAMES; fi

  # The grid, and the peer on a hardware adapter (never required).
  local grid="${GPU_BENCH_GRID:-auto}" min_time="${GPU_BENCH_MIN_TIME:-0.3}" features batches
  case "$grid" in
    tiny) features=128 batches=32 ;;
    *) features=4096 batches=512,4096 ;;
  esac
  say "== peer: PyTorch fp32 dense (cuBLAS, TF32 off), when present"
  local peer_args=()
  if [ "$SOFTWARE" = 1 ]; then
    say "peer: skipped on a software adapter (nothing is judged)"
  elif ! have python3; then
    say "peer: no python3: no peer"
  else
    # With the machine's own library path: the kit's libraries are for Dawn, not for PyTorch.
    if [ -n "$ORIGINAL_LD_LIBRARY_PATH" ]; then set -- env LD_LIBRARY_PATH="$ORIGINAL_LD_LIBRARY_PATH"; else set -- env -u LD_LIBRARY_PATH; fi
    "$@" timeout --foreground 90 python3 "$KIT/gpu-torch.py" --features "$features" --batches "$batches" --min-time "$min_time" --samples 3 --out "$WORK/torch.json"
    prc=$?
    if [ "$prc" = 0 ] && [ -f "$WORK/torch.json" ]; then
      peer_args=(--peer "$WORK/torch.json")
    elif [ "$prc" = 124 ]; then
      say "peer: PyTorch took over 90 s: no peer"
    elif [ "$prc" != 10 ]; then
      say "peer: gpu-torch.py failed (status $prc): no peer"
    fi
  fi

  say "== benchmark: our WGSL kernels, sparse against our dense"
  local allow=()
  [ "$SOFTWARE" = 1 ] && allow=(--allow-software)
  "$NODE" "$WORK/kit/gpu-bench.mjs" --out "$OUTDIR" --grid "$grid" --min-time "$min_time" --gpu-name "$GPU_NAME" --gpu-line "$GPU_LINE" \
    --kit-manifest "$KIT/MANIFEST" --probe "$PROBE_FILE" --robustness "${GPU_BENCH_ROBUSTNESS:-off}" ${allow[@]+"${allow[@]}"} ${peer_args[@]+"${peer_args[@]}"}
  prc=$?
  case "$prc" in
    0) say "gpu.sh: done: $OUTDIR/results.txt, results.json, run.log" ;;
    "$EXIT_SOFTWARE" | "$EXIT_NO_ADAPTER") exit "$prc" ;;
    *) die $EXIT_BENCH "the benchmark failed (status $prc; the log above shows why); the rows finished before it are kept in $OUTDIR/results.json (\"complete\": false). A lost device or wrong results: try again with GPU_BENCH_ROBUSTNESS=on (Dawn's bounds clamping back)" ;;
  esac
}

case "${1:-}" in
  prepare) prepare ;;
  run) run_outer "${2:-}" ;;
  _inner) run_inner "$2" "$3" ;;
  help | -h | --help) sed -n '2,/^set /p' "$SELF" | sed -n 's/^# \{0,1\}//p' ;;
  *) die $EXIT_USAGE "usage: bash bench/gpu.sh prepare | run [OUTDIR] | help (docs/gpu-benchmark.md)" ;;
esac
