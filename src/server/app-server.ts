/**
 * The app's static file server (Node): serves the built app (dist/app) on 127.0.0.1 only, GET and HEAD only, no
 * directory listing, nothing outside the app folder. Every response carries the headers that make the page
 * cross-origin isolated (COOP same-origin + COEP require-corp: SharedArrayBuffer, so multi-threaded WebAssembly)
 * and a content security policy that keeps the page's scripts to its own origin. The server never receives a
 * user's file: all computation happens in the browser tab.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { MedpersamUserError } from '../errors.js';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Headers sent with every response (exported for the tests and for other static hosts' configuration). */
export const APP_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  // Model URLs the user types may be fetched (connect-src); scripts, workers and wasm only from this origin.
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self' blob: 'wasm-unsafe-eval'; worker-src 'self' blob:; img-src 'self' blob: data:; " +
    "style-src 'self' 'unsafe-inline'; connect-src 'self' blob: data: https: http://127.0.0.1:* http://localhost:*; object-src 'none'; base-uri 'self'",
};

export interface AppServerOptions {
  /** Folder of the built app (index.html, assets/, tfjs/, ort/). */
  root: string;
  /** Port on 127.0.0.1 (default 8765; 0 = any free port). */
  port?: number;
}

export interface AppServer {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

export async function startAppServer(opts: AppServerOptions): Promise<AppServer> {
  const root = resolve(opts.root);
  try {
    if (!(await stat(join(root, 'index.html'))).isFile()) throw new Error('not a file');
  } catch {
    throw new MedpersamUserError('APP_NOT_BUILT', 'the app is not built here (no index.html): run `npm run build:app`', { file: root });
  }
  const server = createServer((req, res) => {
    for (const [k, v] of Object.entries(APP_HEADERS)) res.setHeader(k, v);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (path.endsWith('/')) path += 'index.html';
    const file = normalize(join(root, path));
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(403).end();
      return;
    }
    stat(file).then(
      (info) => {
        if (!info.isFile()) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, {
          'Content-Type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
          'Content-Length': String(info.size),
          'Cache-Control': extname(file) === '.html' ? 'no-cache' : 'max-age=3600',
        });
        if (req.method === 'HEAD') res.end();
        else createReadStream(file).pipe(res);
      },
      () => res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found'),
    );
  });
  const port = opts.port ?? 8765;
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new MedpersamUserError('PORT_IN_USE', `port ${port} on 127.0.0.1 is in use: choose another with --port`)
          : err,
      ),
    );
    server.listen(port, '127.0.0.1', () => resolvePromise());
  });
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://127.0.0.1:${actual}/`,
    port: actual,
    server,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
