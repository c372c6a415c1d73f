/**
 * `medpersam app [--port N] [--open]`: serve the browser app on 127.0.0.1 (src/server/app-server.ts). The app runs
 * entirely in the browser tab; this process only serves its static files. In a checkout without a built app, it is
 * built first (vite, a dev dependency); `--rebuild` builds it again.
 */
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { MedpersamUserError } from '../../errors.js';
import { appIsBuilt, buildApp, DEFAULT_APP_DIR } from '../../server/app-build.js';
import { startAppServer, type AppServer } from '../../server/app-server.js';
import type { CliContext } from '../context.js';

interface AppCommandOptions {
  port: string;
  open?: boolean;
  rebuild?: boolean;
  dir?: string;
}

function openInBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'cmd' : 'xdg-open';
  const args = process.platform === 'win32' ? ['/c', 'start', '', url] : [url];
  try {
    spawn(cmd, args, { stdio: 'ignore', detached: true }).on('error', () => {}).unref();
  } catch {
    // no browser opener: the URL is printed anyway
  }
}

export function registerAppCommand(program: Command, ctx: CliContext): void {
  program
    .command('app')
    .description('serve the browser app on 127.0.0.1 (everything runs in your browser; images never leave the machine)')
    .option('--port <n>', 'port on 127.0.0.1', '8765')
    .option('--open', 'open the app in the default browser')
    .option('--rebuild', 'build the app again before serving it')
    .option('--dir <folder>', 'serve an app built elsewhere (npm run build:app writes dist/app)')
    .addHelpText('after', '\nExamples:\n  medpersam app --open\n  medpersam app --port 9000\n\nStop it with Ctrl-C. `npm run build:app` writes the same app as static files for any static host.')
    .action(async (opts: AppCommandOptions, cmd: Command) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new MedpersamUserError('BAD_OPTION', `--port must be 0..65535, got "${opts.port}"`);
      const dir = opts.dir ?? DEFAULT_APP_DIR;
      if (!opts.dir && (opts.rebuild || !appIsBuilt(dir))) {
        ctx.note(cmd, `building the app into ${dir} …`);
        await buildApp(dir);
      }
      const server: AppServer = await startAppServer({ root: dir, port });
      ctx.io.stdout.write(`medpersam app: ${server.url}\n`);
      ctx.note(cmd, 'serving static files only, on 127.0.0.1; all computation runs in the browser tab. Ctrl-C stops the server.');
      if (opts.open) openInBrowser(server.url);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.removeListener('SIGINT', stop);
          process.removeListener('SIGTERM', stop);
          void server.close().then(resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
