/** `medpersam app`: serves a built app folder on 127.0.0.1 with the isolation headers; clear errors otherwise. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { APP_HEADERS } from '../../src/server/app-server.js';
import { captureIo, makeTempDir } from './helpers.js';

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

describe('medpersam app', () => {
  it('serves the folder on 127.0.0.1 until Ctrl-C, with COOP/COEP on every response', async () => {
    const tmp = await makeTempDir('app');
    cleanup = tmp.cleanup;
    await writeFile(join(tmp.dir, 'index.html'), '<!doctype html><title>t</title>');
    const io = captureIo();
    const running = runCli(['app', '--dir', tmp.dir, '--port', '0'], io);
    for (let i = 0; i < 100 && !/http:\/\/127\.0\.0\.1:\d+\//.test(io.out()); i++) await new Promise((r) => setTimeout(r, 50));
    const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(io.out())![0];
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<title>t</title>');
    for (const [k, v] of Object.entries(APP_HEADERS)) expect(res.headers.get(k)).toBe(v);
    expect((await fetch(`${url}missing.js`)).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
    process.emit('SIGINT');
    expect(await running).toBe(0);
  });

  it('a folder without a built app, or a bad port → exit 1 saying what to do', async () => {
    const tmp = await makeTempDir('app-empty');
    cleanup = tmp.cleanup;
    const io = captureIo();
    expect(await runCli(['app', '--dir', tmp.dir, '--port', '0'], io)).toBe(1);
    expect(io.err()).toContain('npm run build:app');
    const bad = captureIo();
    expect(await runCli(['app', '--port', '70000'], bad)).toBe(1);
    expect(bad.err()).toContain('--port must be 0..65535');
  });
});
