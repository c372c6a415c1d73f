import { describe, expect, it } from 'vitest';
import { readFile, stat, writeFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { downloadFile, parseContentRange } from '../../src/sam/download.js';
import type { ProgressEvent } from '../../src/progress.js';
import { useTempDir } from '../fixtures/temp-dir.js';
import { expectUserError } from '../fixtures/user-error.js';
import { closedPort, etagOf, sha256Hex, testBytes, useTestServer } from './download-server.js';

const server = useTestServer();
const tmp = useTempDir({ prefix: 'medpersam-dl-', scope: 'each' });

async function fileSize(path: string): Promise<number> {
  return stat(path).then(
    (st) => st.size,
    () => 0,
  );
}

/** Poll `condition` every 5 ms until it holds; fail naming `what` after `timeoutMs`. */
async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('downloadFile', () => {
  it('downloads a whole file, verifies sha256, reports progress and leaves no partial files', async () => {
    const body = testBytes(300_000, 7);
    server.files.set('/m/enc.onnx', { body });
    const dest = join(tmp.dir, 'enc.onnx');
    const events: ProgressEvent[] = [];
    const r = await downloadFile(`${server.baseUrl}/m/enc.onnx`, dest, {
      expectedSha256: sha256Hex(body).toUpperCase(), // case-insensitive
      onProgress: (e) => events.push(e),
    });
    expect(Buffer.compare(await readFile(dest), Buffer.from(body))).toBe(0);
    expect(r).toMatchObject({ bytes: 300_000, sha256: sha256Hex(body), resumedFromBytes: 0, attempts: 1 });
    expect(await readdir(tmp.dir)).toEqual(['enc.onnx']);
    const dl = events.filter((e) => e.stage === 'download');
    expect(dl.at(-1)).toMatchObject({ done: 300_000, total: 300_000 });
    for (let i = 1; i < dl.length; i++) expect(dl[i]!.done).toBeGreaterThanOrEqual(dl[i - 1]!.done);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.range).toBeUndefined();
  });

  it('keeps every byte received before a cut, also when the data and the cut arrive in one burst (loaded machine)', async () => {
    // A raw server: first answer = headers + the first 10000 body bytes + FIN in a single write, as a starved
    // process sees a cut connection (before the fix the response was destroyed with the bytes still buffered and
    // the retry started from zero); the retry gets the tail it asks for.
    const body = testBytes(200_000, 5);
    const asked: (string | undefined)[] = [];
    const raw = net.createServer((sock) => {
      sock.once('data', (req) => {
        const from = /^range: bytes=(\d+)-/im.exec(req.toString())?.[1];
        asked.push(from);
        const head = (status: string, n: number) => `HTTP/1.1 ${status}\r\ncontent-length: ${n}\r\netag: "e1"\r\n`;
        if (asked.length === 1) {
          sock.end(Buffer.concat([Buffer.from(`${head('200 OK', body.length)}\r\n`), body.subarray(0, 10_000)]));
        } else {
          const start = Number(from ?? 0);
          const range = from === undefined ? '' : `content-range: bytes ${start}-${body.length - 1}/${body.length}\r\n`;
          sock.end(Buffer.concat([Buffer.from(`${head(from === undefined ? '200 OK' : '206 Partial Content', body.length - start)}${range}\r\n`), body.subarray(start)]));
        }
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = raw.address() as AddressInfo;
      const dest = join(tmp.dir, 'f.bin');
      const r = await downloadFile(`http://127.0.0.1:${port}/f.bin`, dest, { retries: 2, retryDelayMs: 1 });
      expect(Buffer.compare(await readFile(dest), Buffer.from(body))).toBe(0);
      expect(r.attempts).toBe(2);
      expect(asked).toHaveLength(2);
      expect(asked[0]).toBeUndefined();
      expect(asked[1]).toBe('10000');
    } finally {
      await new Promise<void>((resolve) => raw.close(() => resolve()));
    }
  });

  it('resumes with a Range request after the connection is cut, within one call (retry)', async () => {
    const body = testBytes(200_000, 3);
    const cut = 65_536;
    server.files.set('/f.bin', { body, cutFirstResponseAfter: cut });
    const dest = join(tmp.dir, 'f.bin');
    const r = await downloadFile(`${server.baseUrl}/f.bin`, dest, { retries: 2, retryDelayMs: 1 });
    expect(Buffer.compare(await readFile(dest), Buffer.from(body))).toBe(0);
    expect(r.attempts).toBe(2);
    expect(server.requests).toHaveLength(2);
    expect(server.requests[0]!.range).toBeUndefined();
    // The second request asks for exactly the missing tail, guarded by the ETag of the first response.
    const m = /^bytes=(\d+)-$/.exec(server.requests[1]!.range ?? '');
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![1])).toBeLessThanOrEqual(cut);
    expect(server.requests[1]!.ifRange).toBe(etagOf(body));
  });

  it('keeps the partial file after a failed call and resumes from it on the next call', async () => {
    const body = testBytes(150_000, 11);
    server.files.set('/f.bin', { body, cutFirstResponseAfter: 50_000 });
    const dest = join(tmp.dir, 'f.bin');
    const url = `${server.baseUrl}/f.bin`;
    const err = await expectUserError(downloadFile(url, dest, { retries: 0 }), 'DOWNLOAD_FAILED');
    expect(err.message).toContain(url);
    expect(err.message).toContain('kept');
    expect(existsSync(dest)).toBe(false); // nothing half-written presented as complete
    const partBytes = (await stat(`${dest}.part`)).size;
    expect(partBytes).toBeGreaterThan(0);
    expect(partBytes).toBeLessThanOrEqual(50_000);

    const r = await downloadFile(url, dest, { retries: 0 });
    expect(r.resumedFromBytes).toBe(partBytes);
    expect(server.requests[1]!.range).toBe(`bytes=${partBytes}-`);
    expect(Buffer.compare(await readFile(dest), Buffer.from(body))).toBe(0);
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(existsSync(`${dest}.part.json`)).toBe(false);
  });

  it('restarts from zero when the server ignores Range (200 instead of 206)', async () => {
    const body = testBytes(120_000, 5);
    server.files.set('/f.bin', { body, ranges: false, cutFirstResponseAfter: 40_000 });
    const dest = join(tmp.dir, 'f.bin');
    await downloadFile(`${server.baseUrl}/f.bin`, dest, { retries: 1, retryDelayMs: 1 });
    expect(server.requests[1]!.range).toMatch(/^bytes=\d+-$/);
    // Had the 200 body been appended, the file would be too long.
    expect(Buffer.compare(await readFile(dest), Buffer.from(body))).toBe(0);
  });

  it('never splices bytes whose Content-Range does not start where the partial file ends', async () => {
    const body = testBytes(120_000, 9);
    server.files.set('/f.bin', { body, cutFirstResponseAfter: 40_000, wrongRangeStart: 10 });
    const dest = join(tmp.dir, 'f.bin');
    await downloadFile(`${server.baseUrl}/f.bin`, dest, { retries: 1, retryDelayMs: 1 });
    // 1: cut; 2: Range answered with a Content-Range starting at 10 (rejected); 3: fresh, no Range.
    expect(server.requests.map((q) => q.range === undefined)).toEqual([true, false, true]);
    expect(Buffer.compare(await readFile(dest), Buffer.from(body))).toBe(0);
  });

  it('treats a partial file that is already complete (416 with matching size) as done', async () => {
    const body = testBytes(10_000, 2);
    server.files.set('/f.bin', { body });
    const dest = join(tmp.dir, 'f.bin');
    const url = `${server.baseUrl}/f.bin`;
    await writeFile(`${dest}.part`, body);
    await writeFile(`${dest}.part.json`, JSON.stringify({ url, etag: etagOf(body) }));
    const r = await downloadFile(url, dest, { expectedSha256: sha256Hex(body) });
    expect(r.resumedFromBytes).toBe(10_000);
    expect(server.requests[0]!.range).toBe('bytes=10000-');
    expect(Buffer.compare(await readFile(dest), Buffer.from(body))).toBe(0);
  });

  it('drops a partial file that belongs to another URL', async () => {
    const body = testBytes(5_000, 4);
    server.files.set('/f.bin', { body });
    const dest = join(tmp.dir, 'f.bin');
    await writeFile(`${dest}.part`, testBytes(3_000, 99));
    await writeFile(`${dest}.part.json`, JSON.stringify({ url: 'http://elsewhere/f.bin' }));
    const r = await downloadFile(`${server.baseUrl}/f.bin`, dest);
    expect(r.resumedFromBytes).toBe(0);
    expect(server.requests[0]!.range).toBeUndefined();
    expect(Buffer.compare(await readFile(dest), Buffer.from(body))).toBe(0);
  });

  it('removes the file and explains a checksum mismatch', async () => {
    const body = testBytes(40_000, 8);
    server.files.set('/f.bin', { body });
    const dest = join(tmp.dir, 'f.bin');
    const wrong = 'ab'.repeat(32);
    const err = await expectUserError(
      downloadFile(`${server.baseUrl}/f.bin`, dest, { expectedSha256: wrong }),
      'CHECKSUM_MISMATCH',
    );
    expect(err.message).toContain(wrong);
    expect(err.message).toContain(sha256Hex(body));
    expect(err.message).toContain('removed');
    expect(await readdir(tmp.dir)).toEqual([]);
  });

  it('says clearly when the server is down, and writes nothing', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}/m/enc.onnx`;
    const dest = join(tmp.dir, 'enc.onnx');
    const err = await expectUserError(downloadFile(url, dest, { retries: 1, retryDelayMs: 1 }), 'DOWNLOAD_FAILED');
    expect(err.message).toContain(url);
    expect(err.message).toMatch(/connection refused/);
    expect(err.message).toMatch(/server is down/);
    expect(err.message).toContain('2 attempts');
    expect(await readdir(tmp.dir)).toEqual([]);
  });

  it('reports HTTP 404 as a missing file without retrying', async () => {
    const url = `${server.baseUrl}/nope.onnx`;
    const dest = join(tmp.dir, 'nope.onnx');
    const err = await expectUserError(downloadFile(url, dest, { retries: 3, retryDelayMs: 1 }), 'DOWNLOAD_NOT_FOUND');
    expect(err.message).toContain(url);
    expect(err.message).toContain('404');
    expect(server.requests).toHaveLength(1);
    expect(await readdir(tmp.dir)).toEqual([]);
  });

  it('retries server errors (HTTP 500) and then succeeds', async () => {
    const body = testBytes(1_000, 6);
    server.files.set('/f.bin', { body, failFirst: 2 });
    const dest = join(tmp.dir, 'f.bin');
    const r = await downloadFile(`${server.baseUrl}/f.bin`, dest, { retries: 2, retryDelayMs: 1 });
    expect(r.attempts).toBe(3);
    expect(Buffer.compare(await readFile(dest), Buffer.from(body))).toBe(0);
  });

  it('follows redirects (relative and absolute) and keeps the Range header across them', async () => {
    const body = testBytes(90_000, 12);
    server.files.set('/cdn/blob', { body, cutFirstResponseAfter: 30_000 });
    server.redirects.set('/repo/resolve/main/m.zip', '/lfs/m.zip');
    server.redirects.set('/lfs/m.zip', `${server.baseUrl}/cdn/blob`);
    const dest = join(tmp.dir, 'm.zip');
    const r = await downloadFile(`${server.baseUrl}/repo/resolve/main/m.zip`, dest, { retries: 1, retryDelayMs: 1 });
    expect(r.finalUrl).toBe(`${server.baseUrl}/cdn/blob`);
    expect(Buffer.compare(await readFile(dest), Buffer.from(body))).toBe(0);
    const cdnRequests = server.requests.filter((q) => q.path === '/cdn/blob');
    expect(cdnRequests).toHaveLength(2);
    expect(cdnRequests[1]!.range).toMatch(/^bytes=\d+-$/);
  });

  it('stops at a redirect loop with a clear error', async () => {
    server.redirects.set('/a', '/b');
    server.redirects.set('/b', '/a');
    const err = await expectUserError(downloadFile(`${server.baseUrl}/a`, join(tmp.dir, 'a'), { maxRedirects: 5 }), 'DOWNLOAD_FAILED');
    expect(err.message).toContain('redirects');
  });

  it('rejects an expected size that the server contradicts', async () => {
    server.files.set('/f.bin', { body: testBytes(1_000) });
    const dest = join(tmp.dir, 'f.bin');
    await expectUserError(downloadFile(`${server.baseUrl}/f.bin`, dest, { expectedSize: 999 }), 'DOWNLOAD_FAILED');
    expect(await readdir(tmp.dir)).toEqual([]);
  });

  it('stops when aborted and keeps the partial file', async () => {
    server.files.set('/f.bin', { body: testBytes(50_000), cutFirstResponseAfter: 10_000 });
    const controller = new AbortController();
    const dest = join(tmp.dir, 'f.bin');
    const p = downloadFile(`${server.baseUrl}/f.bin`, dest, {
      retries: 5,
      retryDelayMs: 10_000,
      signal: controller.signal,
    });
    // Abort once part of the first response is on disk (not after a fixed delay: on a loaded machine the response
    // can take longer than any delay, and an abort before it arrives leaves no partial file to keep).
    await waitFor(async () => (await fileSize(`${dest}.part`)) > 0, 'the first bytes in f.bin.part');
    controller.abort();
    const err = await expectUserError(p, 'DOWNLOAD_ABORTED');
    expect(err.message).toContain('kept');
    expect(existsSync(dest)).toBe(false);
    expect((await stat(`${dest}.part`)).size).toBeGreaterThan(0);
    expect((await stat(`${dest}.part`)).size).toBeLessThanOrEqual(10_000);
    expect(server.requests).toHaveLength(1); // stopped before any retry (the back-off is 10 s)
  });
});

describe('parseContentRange', () => {
  it('parses ranges and the unsatisfied form', () => {
    expect(parseContentRange('bytes 100-199/1000')).toEqual({ start: 100, end: 199, total: 1000 });
    expect(parseContentRange('bytes 0-9/*')).toEqual({ start: 0, end: 9, total: undefined });
    expect(parseContentRange('bytes */1000')).toEqual({ start: -1, end: -1, total: 1000 });
    expect(parseContentRange('items 0-1/2')).toBeUndefined();
    expect(parseContentRange(undefined)).toBeUndefined();
  });
});
