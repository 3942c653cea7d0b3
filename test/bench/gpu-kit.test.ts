import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { fp32Peak, isSoftwareAdapter, judgeTargets, KIT_EXIT, type PeerTimes } from '../../bench/gpu-targets.js';
import type { KernelBenchRow } from '../../src/kernels/bench.js';
import { probeWebGPU } from '../../src/kernels/webgpu/webgpu-backend.js';
import { tempDir } from '../helpers/temp-dir.js';
import { WEBGPU_REQUIRED } from '../helpers/webgpu.js';

/*
 * The GPU benchmark kit end to end on lavapipe (bench/gpu.sh, docs/gpu-benchmark.md): prepare a kit
 * (with the machine's node, GPU_KIT_NODE=system, to keep it quick), run it with the software
 * override on the tiny grid behind a fake NVIDIA driver folder (a broken libGLX_nvidia and lavapipe
 * posing as libEGL_nvidia, so the written GLX and EGL manifests are both tried) and the kit's own
 * libraries forced in; then the refusal of a software adapter, the overall timeout, and a PATH
 * without xz. Then issue 13's targets judged on made-up rows. Needs Debian's apt and dpkg and
 * lavapipe; with REQUIRE_WEBGPU=1 (CI) their absence fails instead of skipping.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = join(ROOT, 'bench/gpu.sh');

interface Run {
  status: number | null;
  out: string;
  seconds: number;
}

/** The environment without the kit's own settings (a developer's GPU_BENCH_* must not leak in). */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(GPU_BENCH_|GPU_KIT_|OUT$)/.test(key)) env[key] = value;
  }
  return { ...env, LP_NATIVE_VECTOR_WIDTH: '128', ...extra };
}

/** bash bench/gpu.sh with `args`, stdout and stderr together (as the device tool shows them). */
function gpuSh(args: string[], env: Record<string, string>, timeoutMs = 120_000): Run {
  const start = performance.now();
  const result = spawnSync('/bin/bash', ['-c', `exec /bin/bash "$0" "$@" 2>&1`, SCRIPT, ...args], { env: cleanEnv(env), encoding: 'utf8', timeout: timeoutMs });
  return { status: result.status, out: result.stdout, seconds: (performance.now() - start) / 1000 };
}

/** Index of the first line of `lines` that starts with `prefix` (-1 when none). */
const lineIndex = (lines: string[], prefix: string | RegExp) => lines.findIndex((l) => (typeof prefix === 'string' ? l.startsWith(prefix) : prefix.test(l)));

/** lavapipe's Vulkan driver library, from its manifest. */
function lavapipeLibrary(): string | null {
  for (const dir of ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d']) {
    const manifest = join(dir, 'lvp_icd.json');
    if (!existsSync(manifest)) continue;
    const path = (JSON.parse(readFileSync(manifest, 'utf8')) as { ICD: { library_path: string } }).ICD.library_path;
    if (isAbsolute(path)) return existsSync(path) ? path : null;
    for (const libDir of ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib']) {
      if (existsSync(join(libDir, path))) return join(libDir, path);
    }
  }
  return null;
}

const commandExists = (name: string) => spawnSync('/bin/sh', ['-c', `command -v ${name}`]).status === 0;

describe('the GPU benchmark kit on lavapipe (bench/gpu.sh prepare, then run)', () => {
  const dir = tempDir('blocksparse-gpu-kit-');
  const kit = join(dir, 'kit');
  let skipReason: string | null = null;
  let prepared: Run;

  beforeAll(async () => {
    const probe = await probeWebGPU();
    const missing = [
      ...['apt-get', 'dpkg', 'dpkg-deb', 'xz', 'timeout'].filter((t) => !commandExists(t)).map((t) => `the tool ${t}`),
      ...(probe.available ? [] : [`a WebGPU adapter (${probe.reason})`]),
      ...(lavapipeLibrary() ? [] : ['lavapipe (lvp_icd.json and its library)']),
    ];
    if (missing.length > 0) {
      if (WEBGPU_REQUIRED) throw new Error(`the GPU kit test needs ${missing.join(', ')} (REQUIRE_WEBGPU=1)`);
      skipReason = `needs ${missing.join(', ')}`;
      process.stderr.write(`skipping the GPU kit test: ${skipReason}\n`);
      return;
    }
    prepared = gpuSh(['prepare'], { GPU_KIT_DIR: kit, GPU_KIT_NODE: 'system' });
  }, 180_000);

  const ready = (context: TestContext): boolean => {
    if (skipReason) context.skip(skipReason);
    return skipReason === null;
  };

  it('prepares a kit: the bundles, dawn.node in xz, the libraries\' .debs and which library each holds', (context) => {
    if (!ready(context)) return;
    expect(prepared.status, prepared.out).toBe(0);
    expect(prepared.out).toMatch(/^kit size: \d+\.\d MiB/m);
    for (const file of ['gpu-bench.mjs', 'gpu-probe.mjs', 'gpu-torch.py', 'webgpu/dawn.node.xz', 'webgpu/index.js', 'MANIFEST']) expect(existsSync(join(kit, file)), file).toBe(true);
    // GPU_KIT_NODE=system: no node packed; the manifest says so, and names the script it was made with.
    expect(existsSync(join(kit, 'node.xz'))).toBe(false);
    const manifest = readFileSync(join(kit, 'MANIFEST'), 'utf8');
    expect(manifest).toMatch(/^node=system/m);
    expect(manifest).toMatch(/^script=[0-9a-f]{64}$/m);
    const debs = readdirSync(join(kit, 'debs')).filter((f) => f.endsWith('.deb'));
    for (const pkg of ['libvulkan1', 'libx11-6', 'libxext6', 'libxcb1', 'libxau6', 'libxdmcp6', 'libbsd0', 'libmd0', 'libglvnd0', 'libstdc++6']) {
      expect(debs.some((f) => f.startsWith(`${pkg}_`)), pkg).toBe(true);
    }
    const sonames = readFileSync(join(kit, 'debs/SONAMES'), 'utf8');
    expect(sonames).toMatch(/^libvulkan\.so\.1 libvulkan1_\S+\.deb (usr\/)?lib\/x86_64-linux-gnu\/libvulkan\.so\.1$/m);
    expect(sonames).toMatch(/^libX11\.so\.6 libx11-6_/m);
    expect(sonames).toMatch(/^libGLdispatch\.so\.0 libglvnd0_/m);
  });

  it('runs with the software override: the probe first, every manifest tried, results.json and results.txt with GPU times', (context) => {
    if (!ready(context)) return;
    expect(prepared.status, prepared.out).toBe(0);
    // A fake driver folder: libGLX_nvidia is no library (its manifest finds nothing), lavapipe poses as libEGL_nvidia.
    const nvidia = join(dir, 'nvidia');
    mkdirSync(nvidia, { recursive: true });
    writeFileSync(join(nvidia, 'libGLX_nvidia.so.0'), 'not a library\n');
    copyFileSync(lavapipeLibrary()!, join(nvidia, 'libEGL_nvidia.so.0'));
    mkdirSync(join(dir, 'no-icd'), { recursive: true });
    const out = join(dir, 'out');
    const run = gpuSh(['run', out], {
      GPU_KIT_DIR: kit, GPU_BENCH_ALLOW_SOFTWARE: '1', GPU_BENCH_MIN_TIME: '0.05', GPU_BENCH_USE_KIT_LIBS: 'all',
      GPU_BENCH_NVIDIA_DIRS: nvidia, GPU_BENCH_ICD_DIRS: join(dir, 'no-icd'),
    });
    expect(run.status, run.out).toBe(0);
    const lines = run.out.split('\n');
    // The probe comes first, in its order, before anything of the benchmark.
    expect(lines[0]).toMatch(/^== probe \(bench\/gpu\.sh run, /);
    const order = ['kit:', 'gpu:', 'glibc:', 'libstdc++:', 'icd:', 'nvidia libs:', 'vulkan loader:', 'x11 libs:', 'glvnd libs:', 'tools:', 'ldd:', 'adapter try 1/3:', '  adapter: none', 'adapter try 2/3:', /^ {2}adapter: vendor /, /^ {2}features: /, /^ {2}limits: maxComputeWorkgroupStorageSize \d+/, 'adapter: a software one, accepted', '== benchmark', 'backend:'];
    const at = order.map((key) => lineIndex(lines, key));
    expect(at.every((i) => i >= 0), order.filter((_k, i) => at[i] < 0).join(', ')).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
    expect(run.out).toMatch(/^glibc: +2\.\d+ \(dawn\.node needs >= 2\.34\): ok$/m);
    expect(run.out).toMatch(/^libstdc\+\+: +.*GLIBCXX_3\.4\.30/m);
    expect(run.out).toContain(`libGLX_nvidia: ${nvidia}/libGLX_nvidia.so.0`);
    // The kit's libraries were unpacked and used in place of the system's (GPU_BENCH_USE_KIT_LIBS=all).
    expect(run.out).toMatch(/^vulkan loader: libvulkan\.so\.1 kit \(forced\)$/m);
    expect(run.out).toMatch(/^x11 libs: +libX11\.so\.6 kit \(forced\); libXext\.so\.6 kit/m);
    expect(run.out).toMatch(/^kit libs: +libvulkan\.so\.1 .* \(dpkg -x into \S+\/prefix\)$/m);
    expect(run.out).toMatch(/^ldd: +libGLX_nvidia\.so\.0: NOT A SHARED LIBRARY/m);
    expect(run.out).toMatch(/^ldd: +dawn\.node: all dependencies found$/m);
    // Both written manifests were tried: GLX found nothing, EGL (lavapipe) answered.
    expect(lines[at[11]]).toBe(`adapter try 1/3: a manifest written for ${nvidia}/libGLX_nvidia.so.0 (GLX variant)`);
    expect(lines[at[13]]).toBe(`adapter try 2/3: a manifest written for ${nvidia}/libEGL_nvidia.so.0 (EGL variant)`);
    expect(run.out).toContain(`accepted (GPU_BENCH_ALLOW_SOFTWARE=1) with a manifest written for ${nvidia}/libEGL_nvidia.so.0 (EGL variant)`);
    expect(run.out).toContain('peer: skipped on a software adapter');

    // Results: three files, the rows of the tiny grid with both clocks.
    expect(readdirSync(out).sort()).toEqual(['results.json', 'results.txt', 'run.log']);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
      complete: boolean; software: boolean; gridName: string; features: string[]; probe: string[];
      timing: { statistic: string; samples: number }; rows: KernelBenchRow[]; targets: { verdict: string }[];
    };
    expect(results.complete).toBe(true);
    expect(results.software).toBe(true);
    expect(results.gridName).toBe('tiny');
    expect(results.timing).toMatchObject({ statistic: 'median', samples: 3 });
    expect(results.probe[0]).toMatch(/^kit: /);
    expect(results.probe).toContain(`manifest:      a manifest written for ${nvidia}/libEGL_nvidia.so.0 (EGL variant)`);
    expect(results.rows.map((r) => `${r.product} ${r.density}`)).toEqual([
      'forward 1', 'forward 0.25', 'backward-data 1', 'backward-data 0.25', 'weight-gradient 1', 'weight-gradient 0.25',
    ]);
    // lavapipe has timestamp queries: every row has the GPU's time beside the wall clock.
    expect(results.features).toContain('timestamp-query');
    for (const r of results.rows) {
      expect(r.seconds).toBeGreaterThan(0);
      expect(r.denseSeconds).toBeGreaterThan(0);
      expect(r.gpuSeconds).toBeGreaterThan(0);
      expect(r.denseGpuSeconds).toBeGreaterThan(0);
      expect(r.gpuVsDense).toBeCloseTo(r.gpuSeconds! / r.denseGpuSeconds!, 9);
    }
    // On a software adapter nothing is judged.
    expect(results.targets).toHaveLength(6);
    expect(results.targets.every((t) => t.verdict === 'not judged')).toBe(true);
    const text = readFileSync(join(out, 'results.txt'), 'utf8');
    expect(text).toMatch(/^GPU kit results \(complete\)/);
    expect(text).toMatch(/GPU time +GPU dense +GPU sparse\/dense/);
    expect(text).toContain('our dense 4096x4096x4096: >= 40% of fp32 peak: software adapter: not judged');
    expect(readFileSync(join(out, 'run.log'), 'utf8')).toBe(run.out);
  });

  it('refuses a software adapter without GPU_BENCH_ALLOW_SOFTWARE=1, after the probe', (context) => {
    if (!ready(context)) return;
    const out = join(dir, 'refused');
    const run = gpuSh(['run', out], { GPU_KIT_DIR: kit });
    expect(run.status, run.out).toBe(KIT_EXIT.software);
    expect(run.out).toMatch(/^== probe /);
    expect(run.out).toMatch(/^ {2}adapter: vendor .*isFallbackAdapter true \(software\)$/m);
    expect(run.out).toContain('gpu.sh: refused: the only adapter Dawn finds is a software one');
    expect(run.out).toContain('Set GPU_BENCH_ALLOW_SOFTWARE=1 to run on it anyway');
    expect(run.out).not.toContain('== benchmark');
    expect(existsSync(join(out, 'results.json'))).toBe(false);
  });

  it('stops the whole run at GPU_BENCH_TIMEOUT with its message and exit status, keeping what it has', (context) => {
    if (!ready(context)) return;
    const out = join(dir, 'timeout');
    // Minutes per measurement: the run cannot finish in 5 seconds.
    const run = gpuSh(['run', out], { GPU_KIT_DIR: kit, GPU_BENCH_ALLOW_SOFTWARE: '1', GPU_BENCH_MIN_TIME: '60', GPU_BENCH_TIMEOUT: '5' });
    expect(run.status, run.out).toBe(KIT_EXIT.timeout);
    expect(run.out).toMatch(/^== probe /);
    expect(run.out).toContain('gpu.sh: TIMEOUT: the whole run passed GPU_BENCH_TIMEOUT=5 s and was stopped (exit 7)');
    // Stopped, not waited for: 5 s, a 5 s grace before KILL, and the shell's own start.
    expect(run.seconds).toBeLessThan(20);
    expect(readFileSync(join(out, 'results.txt'), 'utf8')).toContain('TIMEOUT: the whole run passed GPU_BENCH_TIMEOUT=5 s');
    expect(readFileSync(join(out, 'run.log'), 'utf8')).toContain('TIMEOUT');
    if (existsSync(join(out, 'results.json'))) {
      expect((JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { complete: boolean }).complete).toBe(false);
    }
  });

  /** A PATH folder with every command of this PATH except those `leaveOut` matches. */
  const pathWithout = (name: string, leaveOut: RegExp): string => {
    const bin = join(dir, name);
    mkdirSync(bin, { recursive: true });
    const seen = new Set<string>();
    for (const folder of (process.env.PATH ?? '').split(delimiter)) {
      if (!folder || !existsSync(folder)) continue;
      for (const entry of readdirSync(folder)) {
        if (seen.has(entry) || leaveOut.test(entry)) continue;
        seen.add(entry);
        symlinkSync(join(folder, entry), join(bin, entry));
      }
    }
    return bin;
  };

  it('names xz when PATH lacks it, and unpacks with python3\'s lzma instead where python3 is there', (context) => {
    if (!ready(context)) return;
    const noXz = gpuSh(['run', join(dir, 'no-xz-no-python')], { GPU_KIT_DIR: kit, GPU_BENCH_ALLOW_SOFTWARE: '1', PATH: pathWithout('bin-no-xz-no-python', /^(xz|python3?(\.\d+)?)$/) });
    expect(noXz.status, noXz.out).toBe(KIT_EXIT.missing);
    expect(noXz.out).toMatch(/^tools: .*see 'missing' below/m);
    expect(noXz.out).toContain('the tool xz (to unpack node.xz and dawn.node.xz from the kit; python3 with lzma, the fallback, is absent too');
    expect(noXz.out).not.toContain('Node.js');
    if (!commandExists('python3')) return;
    // With python3: dawn.node is unpacked by its lzma, and the probe reaches the adapter (refused: no override).
    const fallback = gpuSh(['run', join(dir, 'no-xz')], { GPU_KIT_DIR: kit, PATH: pathWithout('bin-no-xz', /^xz$/) });
    expect(fallback.status, fallback.out).toBe(KIT_EXIT.software);
    expect(fallback.out).toMatch(/^tools: .*: ok; xz absent: python3's lzma unpacks instead/m);
    expect(fallback.out).toMatch(/^ {2}adapter: vendor /m);
  });
});

describe('issue 13\'s GPU targets, judged on made-up rows', () => {
  const F = 4096;
  /** A forward row at bs 32; times in seconds, GPU times null for "no timestamps". */
  const row = (batch: number, density: number, seconds: number, denseSeconds: number, gpu: [number, number] | null = [seconds, denseSeconds]): KernelBenchRow => {
    const nnz = Math.round(density * (F / 32) ** 2);
    const flops = 2 * batch * nnz * 32 * 32;
    return {
      product: 'forward', blockSize: 32, density, batch, features: F, nnz, flops, seconds, gflops: flops / seconds / 1e9,
      denseSeconds, denseGflops: (2 * batch * F * F) / denseSeconds / 1e9, vsDense: seconds / denseSeconds,
      gpuSeconds: gpu?.[0] ?? null, denseGpuSeconds: gpu?.[1] ?? null, gpuVsDense: gpu ? gpu[0] / gpu[1] : null,
    };
  };
  const dense4096 = (2 * 4096 ** 3);
  const peer = (tflops: number): PeerTimes => ({ name: 'PyTorch', version: '2.11.0', device: 'NVIDIA H100 80GB HBM3', features: F, gpuSeconds: { 4096: dense4096 / (tflops * 1e12) }, seconds: { 4096: dense4096 / (tflops * 1e12) } });
  const H100 = 'NVIDIA H100 80GB HBM3';

  it('meets every target: sparse at 0.1x dense time, dense at 45% of peak and 60% of cuBLAS', () => {
    // Dense 4096^3 at 30 TFLOP/s (45% of the H100 SXM's 66.9); N = 512 dense at the same rate.
    const denseAt = (n: number) => (2 * n * F * F) / 30e12;
    const rows = [row(512, 0.1, 0.1 * denseAt(512), denseAt(512)), row(4096, 0.1, 0.1 * denseAt(4096), denseAt(4096))];
    const results = judgeTargets(rows, { software: false, gpuName: H100, peer: peer(50) });
    expect(results.map((r) => r.verdict)).toEqual(['met', 'met', 'met', 'met', 'met', 'met']);
    expect(results[0].detail).toMatch(/^GPU time: .* = 0\.100x our dense/);
    // 0.1x the time over 0.1 of the blocks (round(0.1 * 128^2) = 1638 of 16384): the dense kernel's rate.
    expect(results[1].detail).toMatch(/over 1638 present blocks = 100\.0% of our dense's 30\.0 TFLOP\/s/);
    expect(results[4].detail).toMatch(/30\.0 TFLOP\/s = 44\.8% of H100 SXM's 66\.9 TFLOP\/s/);
    expect(results[5].detail).toMatch(/= 60\.0% of PyTorch 2\.11\.0's 50\.0 TFLOP\/s/);
  });

  it('misses: sparse at 0.5x dense time, dense at 10% of peak and 20% of cuBLAS', () => {
    const denseAt = (n: number) => (2 * n * F * F) / 6.69e12;
    const rows = [row(512, 0.1, 0.5 * denseAt(512), denseAt(512)), row(4096, 0.1, 0.5 * denseAt(4096), denseAt(4096))];
    const results = judgeTargets(rows, { software: false, gpuName: H100, peer: peer(33.45) });
    // 0.5x the time for 0.1 of the work: 20% of the dense rate, under 40%.
    expect(results.map((r) => r.verdict)).toEqual(['MISSED', 'MISSED', 'MISSED', 'MISSED', 'MISSED', 'MISSED']);
    expect(results[1].detail).toMatch(/= 20\.0% of our dense's/);
    expect(results[5].detail).toMatch(/= 20\.0% of PyTorch/);
  });

  it('judges the time ratio and the rate apart: 0.2x the time is 50% of the dense rate', () => {
    const rows = [row(512, 0.1, 0.2, 1), row(4096, 0.1, 0.2, 1)];
    const results = judgeTargets(rows, { software: false, gpuName: H100, peer: null });
    expect(results.slice(0, 4).map((r) => r.verdict)).toEqual(['MISSED', 'met', 'MISSED', 'met']);
  });

  it('does not judge: a software adapter, rows not in the grid, an unknown peak, an absent peer', () => {
    const rows = [row(512, 0.1, 1, 10), row(4096, 0.1, 1, 10)];
    expect(judgeTargets(rows, { software: true, gpuName: H100, peer: peer(50) }).every((r) => r.verdict === 'not judged' && r.detail === 'software adapter')).toBe(true);
    const empty = judgeTargets([], { software: false, gpuName: H100, peer: null });
    expect(empty.map((r) => r.detail)).toEqual(Array(6).fill('not in this grid'));
    const unknown = judgeTargets(rows, { software: false, gpuName: 'Some GPU', peer: null });
    expect(unknown[4]).toMatchObject({ verdict: 'not judged' });
    expect(unknown[4].detail).toMatch(/^unknown peak for "Some GPU"/);
    expect(unknown[5]).toMatchObject({ verdict: 'not judged', detail: 'PyTorch with CUDA absent (peers only when present)' });
  });

  it('falls back to the wall clock when the rows have no GPU times, and says so', () => {
    const rows = [row(512, 0.1, 0.1, 1, null), row(4096, 0.1, 0.1, 1, null)];
    const results = judgeTargets(rows, { software: false, gpuName: H100, peer: null });
    expect(results[0]).toMatchObject({ verdict: 'met' });
    expect(results[0].detail).toMatch(/^wall clock \(no timestamp queries\): /);
  });

  it('knows the fp32 peaks of the GPUs the device tool lends, and says when it does not', () => {
    expect(fp32Peak('NVIDIA H100 80GB HBM3')?.tflops).toBe(66.9);
    expect(fp32Peak('NVIDIA H200')?.tflops).toBe(66.9);
    expect(fp32Peak('NVIDIA H100 PCIe')?.tflops).toBe(51.2);
    expect(fp32Peak('NVIDIA H100 NVL')?.tflops).toBe(60);
    expect(fp32Peak('llvmpipe (LLVM 15.0.6, 256 bits)')).toBeNull();
  });

  it('tells software adapters by the fallback flag or by name', () => {
    const adapter = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H100 80GB HBM3', isFallbackAdapter: false };
    expect(isSoftwareAdapter(adapter)).toBe(false);
    expect(isSoftwareAdapter({ ...adapter, isFallbackAdapter: true })).toBe(true);
    expect(isSoftwareAdapter({ ...adapter, vendor: 'mesa', description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)' })).toBe(true);
    expect(isSoftwareAdapter({ ...adapter, device: 'SwiftShader Device (Subzero)' })).toBe(true);
  });
});
