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

const { runCli } = await loadCli();
process.exitCode = await runCli(process.argv.slice(2));
