#!/usr/bin/env node
// The medpersam command. Runs the built CLI (dist/cli/main.js); in a git checkout without a build it runs the
// TypeScript sources through tsx (a dev dependency), so `npx medpersam` works right after `npm ci`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LONG_RUNS, mallocTuningDecision, TUNED_MMAP_THRESHOLD } from './malloc-tuning.js';

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

// Long runs (segment, bench) with a large SAM encoder, on Linux with glibc, start once more as a child process with
// glibc's mmap threshold fixed at 1 MiB: bin/malloc-tuning.js decides (and says why and what it costs);
// MEDPERSAM_MALLOC_TUNING=1 / 0 forces it on / off.
function wantsMallocTuning() {
  if (process.platform !== 'linux' || !LONG_RUNS.has(process.argv[2])) return false; // skips the report below
  let glibc = false;
  try {
    const report = /** @type {{ header: { glibcVersionRuntime?: string } }} */ (process.report.getReport());
    glibc = Boolean(report.header.glibcVersionRuntime);
  } catch {
    glibc = false;
  }
  const decision = mallocTuningDecision({ argv: process.argv.slice(2), env: process.env, platform: process.platform, glibc });
  if (decision.warning) process.stderr.write(`${decision.warning}\n`);
  return decision.tune;
}

if (wantsMallocTuning()) {
  const { spawn } = await import('node:child_process');
  // Its own process group: a Ctrl-C reaches this process only, and is passed on once (the run's first SIGINT stops
  // it at a checkpoint, a second ends it).
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    detached: true,
    env: { ...process.env, MALLOC_MMAP_THRESHOLD_: TUNED_MMAP_THRESHOLD },
  });
  const forward = (/** @type {NodeJS.Signals} */ signal) => () => child.kill(signal);
  for (const signal of /** @type {NodeJS.Signals[]} */ (['SIGINT', 'SIGTERM', 'SIGHUP'])) process.on(signal, forward(signal));
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
