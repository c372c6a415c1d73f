/**
 * Resumable, verified HTTP(S) download of one file (Node-only; used by `models pull`).
 *
 *  - Streams into `<dest>.part`; `<dest>` appears (atomic rename) only when the whole file is there and its
 *    sha256 matches `expectedSha256` (when given). A reader never sees a half-written `<dest>`.
 *  - When a `.part` exists it resumes with `Range: bytes=<size>-` (plus `If-Range` with the ETag /
 *    Last-Modified seen when the partial file was started). 206 with a matching `Content-Range` appends;
 *    200 means the server ignored the range (or the file changed) and the download restarts from zero;
 *    416 with `bytes *\/<size>` equal to the partial size means the partial file is already complete.
 *  - Follows redirects (Hugging Face and GitHub redirect to CDNs), keeping the Range header.
 *  - Network errors are retried (`retries`, exponential back-off); the partial file is kept between tries
 *    and after a final failure, so running the same command again resumes.
 */
import http from 'node:http';
import https from 'node:https';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, basename } from 'node:path';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { IncomingMessage } from 'node:http';
import { MedpersamUserError } from '../errors.js';
import type { ProgressCallback } from '../progress.js';

export interface DownloadOptions {
  /** Lowercase hex sha256 the complete file must have; mismatch → file removed, 'CHECKSUM_MISMATCH'. */
  expectedSha256?: string;
  /** Exact size the complete file must have, when known. */
  expectedSize?: number;
  /** Progress: stage 'download' (bytes done / total, 0 when unknown), then stage 'checksum'. */
  onProgress?: ProgressCallback;
  /** Cancels the download; the partial file is kept for resume. */
  signal?: AbortSignal;
  /** How many times a failed network attempt is retried (default 3). */
  retries?: number;
  /** Delay before the first retry in ms, doubled for each further retry (default 1000). */
  retryDelayMs?: number;
  /** Give up on a connection that sends nothing for this long, in ms (default 60000). */
  idleTimeoutMs?: number;
  /** At most this many redirects are followed (default 10). */
  maxRedirects?: number;
}

export interface DownloadResult {
  /** The final file (== dest). */
  path: string;
  bytes: number;
  /** Lowercase hex sha256 of the whole file. */
  sha256: string;
  /** Bytes that were already in `<dest>.part` when this call started and were kept (0 = fresh download). */
  resumedFromBytes: number;
  /** HTTP attempts made (1 = no retry). */
  attempts: number;
  /** The URL the bytes finally came from, after redirects. */
  finalUrl: string;
}

/** Side file next to the partial download: what it is a partial copy of. */
interface PartMeta {
  url: string;
  etag?: string;
  lastModified?: string;
  total?: number;
}

const USER_AGENT = 'medpersam (model download; node)';

/** An attempt failure, classified; converted to a MedpersamUserError at the end. */
class AttemptError extends Error {
  constructor(
    readonly kind: 'network' | 'http' | 'not-found' | 'truncated' | 'size' | 'fatal',
    message: string,
    readonly retryable: boolean,
    readonly errnoCode?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const part = `${dest}.part`;
  const metaPath = `${dest}.part.json`;
  const retries = opts.retries ?? 3;
  const retryDelayMs = opts.retryDelayMs ?? 1000;
  const expectedSha = opts.expectedSha256?.toLowerCase();
  await mkdir(dirname(dest), { recursive: true });

  const initialPartBytes = await partSizeForUrl(part, metaPath, url);
  let attempts = 0;
  let finalUrl = url;
  for (;;) {
    checkAborted(opts.signal, url, part);
    attempts++;
    try {
      finalUrl = await attemptOnce(url, part, metaPath, opts);
      break;
    } catch (err) {
      if (opts.signal?.aborted) checkAborted(opts.signal, url, part);
      const attemptErr = classify(err, dest);
      if (!attemptErr.retryable || attempts > retries) {
        throw await toUserError(attemptErr, url, part, attempts);
      }
      await sleep(retryDelayMs * 2 ** (attempts - 1), opts.signal);
    }
  }

  const bytes = (await stat(part)).size;
  if (opts.expectedSize !== undefined && bytes !== opts.expectedSize) {
    await removePartial(part, metaPath);
    throw new MedpersamUserError(
      'DOWNLOAD_SIZE_MISMATCH',
      `downloaded ${bytes} bytes from ${url} but expected ${opts.expectedSize}; the file was removed`,
      { file: dest },
    );
  }
  const sha256 = await sha256File(part, opts.onProgress, basename(dest));
  if (expectedSha && sha256 !== expectedSha) {
    await removePartial(part, metaPath);
    throw new MedpersamUserError(
      'CHECKSUM_MISMATCH',
      `checksum mismatch for ${url}: expected sha256 ${expectedSha}, got ${sha256}. ` +
        'The downloaded file was removed (it is corrupt, or the file at this URL changed). ' +
        'Try again; if it persists the published file differs from the one this version of medpersam knows.',
      { file: dest },
    );
  }
  await rename(part, dest);
  await rm(metaPath, { force: true });
  return { path: dest, bytes, sha256, resumedFromBytes: initialPartBytes, attempts, finalUrl };
}

/** Streaming sha256 of a file (lowercase hex). Reports stage 'checksum' when a callback is given. */
export async function sha256File(path: string, onProgress?: ProgressCallback, label?: string): Promise<string> {
  const hash = createHash('sha256');
  const total = onProgress ? (await stat(path)).size : 0;
  let done = 0;
  const report = throttle(onProgress);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    done += (chunk as Buffer).length;
    report({ stage: 'checksum', done, total, message: label });
  }
  report({ stage: 'checksum', done, total, message: label }, true);
  return hash.digest('hex');
}

// ---------------------------------------------------------------------------------------------------------

/** Size of a partial download that may be resumed for `url`; a partial of another URL (or unknown) is dropped. */
async function partSizeForUrl(part: string, metaPath: string, url: string): Promise<number> {
  const size = await fileSize(part);
  if (size === 0) return 0;
  const meta = await readMeta(metaPath);
  if (!meta || meta.url !== url) {
    await removePartial(part, metaPath);
    return 0;
  }
  return size;
}

/** One HTTP request; resolves with the final URL once `part` holds the complete file. */
async function attemptOnce(url: string, part: string, metaPath: string, opts: DownloadOptions): Promise<string> {
  // At most one restart from zero inside an attempt (stale partial, range not honoured as asked).
  for (let restart = 0; ; restart++) {
    let offset = await partSizeForUrl(part, metaPath, url);
    if (opts.expectedSize !== undefined && offset > opts.expectedSize) {
      await removePartial(part, metaPath);
      offset = 0;
    }
    const meta = offset > 0 ? await readMeta(metaPath) : undefined;
    const headers: Record<string, string> = {
      'user-agent': USER_AGENT,
      accept: '*/*',
      'accept-encoding': 'identity',
    };
    if (offset > 0) {
      headers.range = `bytes=${offset}-`;
      if (meta?.etag && !meta.etag.startsWith('W/')) headers['if-range'] = meta.etag;
      else if (meta?.lastModified) headers['if-range'] = meta.lastModified;
    }
    const { res, finalUrl } = await openUrl(url, headers, opts);
    // Take the body over at once: the awaits below give a cut connection time to destroy the response.
    const body = captureBody(res);
    const status = res.statusCode ?? 0;

    if (status === 416 && offset > 0) {
      // Range starts at or past the end: complete if the server's size equals what we have.
      const range = parseContentRange(header(res, 'content-range'));
      body.discard();
      if (range && range.total === offset) return finalUrl;
      await removePartial(part, metaPath);
      if (restart >= 1) throw new AttemptError('http', `server refused the byte range (HTTP 416) twice`, false);
      continue;
    }
    if (status === 404 || status === 410) {
      body.discard();
      throw new AttemptError('not-found', `HTTP ${status} ${res.statusMessage ?? ''}`.trim(), false);
    }
    if (status !== 200 && status !== 206) {
      body.discard();
      const retryable = status >= 500 || status === 408 || status === 429;
      throw new AttemptError('http', `HTTP ${status} ${res.statusMessage ?? ''}`.trim(), retryable);
    }

    let append = false;
    let total: number | undefined;
    if (status === 206) {
      const range = parseContentRange(header(res, 'content-range'));
      if (!range || range.start !== offset) {
        // Not the bytes we asked for: never splice them in; start again from zero.
        body.discard();
        await removePartial(part, metaPath);
        if (restart >= 1) throw new AttemptError('http', `server sent an unexpected Content-Range (${header(res, 'content-range') ?? 'none'})`, false);
        continue;
      }
      append = offset > 0;
      total = range.total;
    } else {
      // 200: the whole file from byte 0 (server ignored Range, or the file changed since the partial).
      const len = Number(header(res, 'content-length'));
      total = Number.isFinite(len) && header(res, 'content-length') !== undefined ? len : undefined;
    }
    if (total !== undefined && opts.expectedSize !== undefined && total !== opts.expectedSize) {
      body.discard();
      await removePartial(part, metaPath);
      throw new AttemptError('size', `the server reports ${total} bytes but ${opts.expectedSize} were expected`, false);
    }
    if (!append) {
      const newMeta: PartMeta = { url, total };
      const etag = header(res, 'etag');
      const lastModified = header(res, 'last-modified');
      if (etag) newMeta.etag = etag;
      if (lastModified) newMeta.lastModified = lastModified;
      await writeFile(metaPath, JSON.stringify(newMeta));
    }

    const startBytes = append ? offset : 0;
    const progressTotal = total ?? opts.expectedSize ?? 0;
    const report = throttle(opts.onProgress);
    const label = basename(part).replace(/\.part$/, '');
    let done = startBytes;
    report({ stage: 'download', done, total: progressTotal, message: label }, true);
    await pipeline(
      body.stream,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          done += chunk.length;
          report({ stage: 'download', done, total: progressTotal, message: label });
          yield chunk;
        }
      },
      createWriteStream(part, { flags: append ? 'a' : 'w' }),
    );
    // The body stream ends normally also when the response failed (so the file was flushed): now report it.
    if (body.error() !== undefined) throw body.error();
    const have = await fileSize(part);
    report({ stage: 'download', done: have, total: progressTotal, message: label }, true);
    if (total !== undefined && have !== total) {
      throw new AttemptError('truncated', `the connection ended after ${have} of ${total} bytes`, true);
    }
    return finalUrl;
  }
}

/** A response body taken over as soon as the response arrives; see captureBody. */
interface CapturedBody {
  /** Every byte the response delivered; ends (normally) when the response ends, fails or closes. */
  stream: PassThrough;
  /** Why the response failed (cut connection, abort), or undefined when it ended normally. */
  error(): unknown;
  /** Throw the body away (responses that are not used). */
  discard(): void;
}

/**
 * Move a response's body into a PassThrough as it arrives. A response that fails is destroyed, and a destroyed
 * stream drops what it still buffers: when a starved process reads the data and the cut together, the bytes
 * received would be lost and the resume would start from zero. Here they are already in `stream`, which then
 * ends normally, so the partial file gets them; the failure is reported through `error()`. (Only bytes held in
 * the response while the disk is slower than the network, i.e. under backpressure, can still be lost.)
 */
function captureBody(res: IncomingMessage): CapturedBody {
  const stream = new PassThrough();
  let failure: unknown;
  let ended = false;
  const end = (err?: unknown) => {
    if (ended) return;
    ended = true;
    failure = err;
    res.unpipe(stream);
    stream.end();
  };
  res.pipe(stream, { end: false });
  res.once('end', () => end());
  res.once('error', (err) => end(err));
  // Closed without 'end' or 'error': a cut all the same.
  res.once('close', () => end(res.complete ? undefined : new Error('aborted')));
  return {
    stream,
    error: () => failure,
    discard: () => {
      stream.resume();
      res.resume();
    },
  };
}

/** GET with redirects. Resolves with the first non-redirect response. */
async function openUrl(
  url: string,
  headers: Record<string, string>,
  opts: DownloadOptions,
): Promise<{ res: IncomingMessage; finalUrl: string }> {
  const maxRedirects = opts.maxRedirects ?? 10;
  let current = url;
  for (let hop = 0; ; hop++) {
    let target: URL;
    try {
      target = new URL(current);
    } catch {
      throw new AttemptError('fatal', `not a valid URL`, false);
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      throw new AttemptError('fatal', `unsupported protocol ${target.protocol} (only http and https)`, false);
    }
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const client = target.protocol === 'https:' ? https : http;
      const req = client.request(target, { method: 'GET', headers, signal: opts.signal }, resolve);
      req.on('error', reject);
      req.setTimeout(opts.idleTimeoutMs ?? 60_000, () => {
        const err = new Error(`no data for ${Math.round((opts.idleTimeoutMs ?? 60_000) / 1000)} s`) as NodeJS.ErrnoException;
        err.code = 'ETIMEDOUT';
        req.destroy(err);
      });
      req.end();
    });
    const status = res.statusCode ?? 0;
    const location = header(res, 'location');
    if ([301, 302, 303, 307, 308].includes(status) && location) {
      res.resume();
      if (hop >= maxRedirects) throw new AttemptError('http', `more than ${maxRedirects} redirects`, false);
      current = new URL(location, current).toString();
      continue;
    }
    return { res, finalUrl: current };
  }
}

function header(res: IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** `bytes 100-199/1000` → {start:100,end:199,total:1000}; `bytes *\/1000` → {start:-1,end:-1,total:1000}. */
export function parseContentRange(value: string | undefined): { start: number; end: number; total?: number } | undefined {
  if (!value) return undefined;
  const m = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(value.trim());
  if (!m) return undefined;
  const total = m[3] === '*' ? undefined : Number(m[3]);
  if (m[1] === undefined) return { start: -1, end: -1, total };
  return { start: Number(m[1]), end: Number(m[2]), total };
}

function classify(err: unknown, dest: string): AttemptError {
  if (err instanceof AttemptError) return err;
  const e = err as NodeJS.ErrnoException;
  // File-system errors while writing the partial file: not a network problem, retrying won't help.
  if (e && typeof e.path === 'string' && typeof e.syscall === 'string') {
    return new AttemptError('fatal', `cannot write ${e.path} (${e.code ?? e.message})`, false, e.code, { cause: err });
  }
  const code = e?.code ?? (e?.message === 'aborted' ? 'ECONNRESET' : undefined);
  void dest;
  return new AttemptError('network', e?.message ?? String(err), true, code, { cause: err });
}

async function toUserError(err: AttemptError, url: string, part: string, attempts: number): Promise<MedpersamUserError> {
  const kept = await fileSize(part);
  const tries = attempts > 1 ? ` (gave up after ${attempts} attempts)` : '';
  const partNote =
    kept > 0
      ? ` The partial file ${part} (${kept} bytes) is kept: run the same command again to resume.`
      : ' Nothing was saved.';
  if (err.kind === 'not-found') {
    return new MedpersamUserError(
      'DOWNLOAD_NOT_FOUND',
      `cannot download ${url}: ${err.message}: there is no file at this address. ` +
        'The model may have moved upstream; check the URL (or MEDPERSAM_MODEL_BASE_URL if you set it).',
      { cause: err },
    );
  }
  if (err.kind === 'fatal' && err.errnoCode && err.errnoCode !== 'ECONNREFUSED') {
    return new MedpersamUserError('UNWRITABLE_OUTPUT', `cannot download ${url}: ${err.message}.${partNote}`, {
      cause: err,
    });
  }
  let what: string;
  const host = safeHost(url);
  switch (err.errnoCode) {
    case 'ECONNREFUSED':
      what = `connection refused by ${host}: the server is down or not reachable from here`;
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      what = `cannot resolve the host ${host}: are you offline, or behind a proxy?`;
      break;
    case 'ETIMEDOUT':
      what = `the connection to ${host} timed out (${err.message})`;
      break;
    case 'ECONNRESET':
    case 'EPIPE':
      what = `the connection to ${host} was cut (${err.message})`;
      break;
    default:
      what = err.message;
  }
  return new MedpersamUserError('DOWNLOAD_FAILED', `cannot download ${url}: ${what}${tries}.${partNote}`, {
    cause: err,
  });
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function checkAborted(signal: AbortSignal | undefined, url: string, part: string): void {
  if (signal?.aborted) {
    throw new MedpersamUserError(
      'DOWNLOAD_ABORTED',
      `download of ${url} was cancelled; the partial file ${part} is kept: run the same command again to resume`,
    );
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function readMeta(metaPath: string): Promise<PartMeta | undefined> {
  try {
    const parsed = JSON.parse(await readFile(metaPath, 'utf8')) as PartMeta;
    return typeof parsed.url === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

async function removePartial(part: string, metaPath: string): Promise<void> {
  await rm(part, { force: true });
  await rm(metaPath, { force: true });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Forward progress at most every 100 ms (plus forced events). */
function throttle(cb: ProgressCallback | undefined): (e: Parameters<ProgressCallback>[0], force?: boolean) => void {
  let last = 0;
  return (event, force = false) => {
    if (!cb) return;
    const now = Date.now();
    if (force || now - last >= 100) {
      last = now;
      cb(event);
    }
  };
}
