/**
 * A tiny HTTP server on 127.0.0.1 (random port) for downloader tests: serves in-memory files with optional
 * Range support, cut connections, redirects and failing first requests, and logs every request.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach } from 'vitest';

export interface ServedFile {
  body: Uint8Array;
  /** Honour `Range: bytes=N-` (default true). */
  ranges?: boolean;
  /** On the first request for this path, send only this many body bytes, then destroy the socket. */
  cutFirstResponseAfter?: number;
  /** Answer the first this-many requests with HTTP 500. */
  failFirst?: number;
  /** For a Range request, answer 206 with a Content-Range starting at this offset instead of the asked one. */
  wrongRangeStart?: number;
}

export interface RequestLog {
  path: string;
  range?: string;
  ifRange?: string;
}

export interface TestServer {
  baseUrl: string;
  requests: RequestLog[];
  files: Map<string, ServedFile>;
  redirects: Map<string, string>;
  close(): Promise<void>;
}

export function etagOf(body: Uint8Array): string {
  return `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
}

export async function startTestServer(): Promise<TestServer> {
  const files = new Map<string, ServedFile>();
  const redirects = new Map<string, string>();
  const requests: RequestLog[] = [];
  const seen = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const range = req.headers.range;
    const ifRange = req.headers['if-range'] as string | undefined;
    requests.push({ path, ...(range ? { range } : {}), ...(ifRange ? { ifRange } : {}) });
    const count = (seen.get(path) ?? 0) + 1;
    seen.set(path, count);

    const redirect = redirects.get(path);
    if (redirect) {
      res.writeHead(302, { location: redirect });
      res.end();
      return;
    }
    const file = files.get(path);
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    if (file.failFirst && count <= file.failFirst) {
      res.writeHead(500);
      res.end('boom');
      return;
    }
    const len = file.body.length;
    const etag = etagOf(file.body);
    let start = 0;
    let status = 200;
    const headers: Record<string, string | number> = { etag, 'accept-ranges': 'bytes' };
    const m = range ? /^bytes=(\d+)-$/.exec(range) : null;
    const ifRangeOk = !ifRange || ifRange === etag;
    if ((file.ranges ?? true) && m && ifRangeOk) {
      start = Number(m[1]);
      if (start >= len) {
        res.writeHead(416, { 'content-range': `bytes */${len}` });
        res.end();
        return;
      }
      status = 206;
      const claimed = file.wrongRangeStart ?? start;
      headers['content-range'] = `bytes ${claimed}-${len - 1}/${len}`;
    }
    const body = file.body.subarray(start);
    headers['content-length'] = body.length;
    res.writeHead(status, headers);
    if (count === 1 && file.cutFirstResponseAfter !== undefined) {
      res.write(body.subarray(0, file.cutFirstResponseAfter), () => {
        setTimeout(() => req.socket.destroy(), 20);
      });
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    files,
    redirects,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A fresh test server for each test of the calling file (or describe block), closed after it. */
export function useTestServer(): Omit<TestServer, 'close'> {
  let current: TestServer | undefined;
  beforeEach(async () => {
    current = await startTestServer();
  });
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  const get = (): TestServer => {
    if (!current) throw new Error('useTestServer: the server runs only inside tests and hooks');
    return current;
  };
  return {
    get baseUrl() {
      return get().baseUrl;
    },
    get requests() {
      return get().requests;
    },
    get files() {
      return get().files;
    },
    get redirects() {
      return get().redirects;
    },
  };
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Deterministic pseudo-random bytes (xorshift32), so content errors can't hide behind repetition. */
export function testBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
