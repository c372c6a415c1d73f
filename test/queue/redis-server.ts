/**
 * A real redis-server for the queue tests (Debian's package; `.ci/run` installs it): started on a free loopback
 * port with an append-only file in a temporary folder, so a restart keeps the queue as a production Redis with
 * persistence does, and a password. `describeWithRedis` skips, saying why, where the binary is absent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';

export const REDIS_SERVER = '/usr/bin/redis-server';
/** The test server's password (the URL carries it, so the tests can check it is never printed). */
export const PASSWORD = 'test-secret-pw';

export function describeWithRedis(name: string, body: () => void): void {
  if (existsSync(REDIS_SERVER)) describe(name, body);
  else describe.skip(`${name} (skipped: ${REDIS_SERVER} not found; install the Debian package redis-server)`, body);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  url: string;
  port: number;
  /** Stop the server (SIGTERM: it writes its append-only file) and wait for it to exit. */
  stop(): Promise<void>;
  /** Start it again on the same port and data folder. */
  start(): Promise<void>;
  /** Stop and delete its data. */
  dispose(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'medpersam-redis-'));
  let proc: ChildProcess | null = null;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const p = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--requirepass', PASSWORD], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      proc = p;
      let out = '';
      p.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) resolve();
      });
      p.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${out}`)));
    });
  const stop = async () => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  };
  await start();
  return { url: `redis://default:${PASSWORD}@127.0.0.1:${port}`, port, start, stop, dispose: async () => {
    await stop();
    await rm(dir, { recursive: true, force: true });
  } };
}
