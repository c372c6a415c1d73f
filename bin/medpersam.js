#!/usr/bin/env node
// The medpersam command. Runs the built CLI (dist/cli/main.js); in a git checkout without a build it runs the
// TypeScript sources through tsx (a dev dependency), so `npx medpersam` works right after `npm ci`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = new URL('../dist/cli/main.js', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);

async function loadCli() {
  if (existsSync(fileURLToPath(built))) return import(built.href);
  if (existsSync(fileURLToPath(source))) {
    let register;
    try {
      ({ register } = await import('tsx/esm/api'));
    } catch {
      process.stderr.write(
        `error: medpersam is not built and tsx is not installed.\n` +
          `In ${root} run "npm ci" (installs tsx) or "npm run build" (writes dist/), then try again.\n`,
      );
      process.exit(1);
    }
    register();
    return import(pathToFileURL(fileURLToPath(source)).href);
  }
  process.stderr.write(`error: medpersam is not built: run "npm run build" in ${root}\n`);
  process.exit(1);
}

// MEDPERSAM_MALLOC_TUNING=1: long runs (segment, bench) on Linux with glibc start once more as a child process with
// glibc's mmap threshold fixed at 1 MiB (MALLOC_MMAP_THRESHOLD_, read only at process start). ONNX Runtime runs SAM's
// encoder without its memory arena, and with glibc's default (a threshold that grows up to 32 MiB) the tensors it
// frees stay in the heap. Measured on the 2-core machine: a 5-image `bench` with a real-architecture SAM ViT-B peaks
// at 4.04 GB instead of 4.42–4.54 GB (one encode alone: 4.01 → 3.57 GB), but warp training and decoding run ~8 %
// slower (page faults of freshly mapped buffers), so it is off by default: worth it for the large ViT encoders.
// A MALLOC_MMAP_THRESHOLD_ already set is left as it is.
const LONG_RUNS = new Set(['segment', 'bench']);
function wantsMallocTuning() {
  if (process.platform !== 'linux' || !LONG_RUNS.has(process.argv[2])) return false;
  if (process.env.MEDPERSAM_MALLOC_TUNING !== '1' || process.env.MALLOC_MMAP_THRESHOLD_ !== undefined) return false;
  try {
    return Boolean(process.report.getReport().header.glibcVersionRuntime);
  } catch {
    return false;
  }
}

if (wantsMallocTuning()) {
  const { spawn } = await import('node:child_process');
  // Its own process group: a Ctrl-C reaches this process only, and is passed on once (the run's first SIGINT stops
  // it at a checkpoint, a second ends it).
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    detached: true,
    env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '1048576' },
  });
  const forward = (signal) => () => child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward(signal));
  child.on('error', (err) => {
    process.stderr.write(`error: cannot start medpersam: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    } else process.exit(code ?? 1);
  });
} else {
  const { runCli } = await loadCli();
  process.exitCode = await runCli(process.argv.slice(2));
}
