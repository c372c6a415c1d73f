/**
 * The project's npm settings: `npx medpersam` prints no npm warning (npm 11 warns about unknown keys in .npmrc,
 * e.g. the former `onnxruntime-node-install=skip`), and installs run no dependency install script
 * (onnxruntime-node's postinstall would download CUDA libraries from NuGet on Linux x64).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const npmEnv = () => {
  // Only the project's own .npmrc: no npm_config_* from the npm process that may be running the tests.
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return env;
};

describe('npm settings', () => {
  it('`npx medpersam --version` prints the version and no npm warning', async () => {
    const { stdout, stderr } = await run('npx', ['--no-install', 'medpersam', '--version'], { cwd: ROOT, env: npmEnv() });
    expect(stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    expect(stderr).not.toMatch(/npm warn/i);
  });

  it('dependency install scripts are off (ignore-scripts), and denied by name for npm versions with allowScripts', async () => {
    const { stdout } = await run('npm', ['config', 'get', 'ignore-scripts'], { cwd: ROOT, env: npmEnv() });
    expect(stdout.trim()).toBe('true');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { allowScripts: Record<string, boolean> };
    expect(pkg.allowScripts['onnxruntime-node']).toBe(false);
  });
});
