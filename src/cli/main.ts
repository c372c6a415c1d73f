/**
 * The medpersam command line. `runCli(argv)` parses and runs one command in-process and returns the exit code
 * (0 success, 1 user error, 2 internal error); the bin script and `npm run medpersam` call it.
 * No logic of its own: commands call src/pipeline and src/eval.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { createContext, defaultDeps, type CliDeps } from './context.js';
import { handleCliError, EXIT_OK } from './exit.js';
import { processIo, type CliIo } from './io.js';
import { registerAppCommand } from './commands/app.js';
import { registerBenchCommand } from './commands/bench.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerEvalCommand } from './commands/eval.js';
import { registerFitCommand } from './commands/fit.js';
import { registerQueueCommand } from './commands/queue.js';
import { registerModelsCommand } from './commands/models.js';
import { registerSegmentCommand } from './commands/segment.js';

function packageVersion(): string {
  try {
    // src/cli/main.ts and dist/cli/main.js both sit two folders below package.json.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Build the command tree (fresh per call, so in-process runs do not share state). */
export function buildProgram(io: CliIo, deps: CliDeps = defaultDeps): Command {
  const ctx = createContext(io, deps);
  const program = new Command();
  program
    .name('medpersam')
    .description('Med-PerSAM: one-shot medical image segmentation with SAM (one annotated reference, no clicks)')
    .version(packageVersion(), '-V, --version')
    .option('-q, --quiet', 'print only the result (no progress bars or notes)')
    .option('--debug', 'print stack traces for errors')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      outputError: (s, write) => write(s),
    })
    .exitOverride();
  registerSegmentCommand(program, ctx);
  registerFitCommand(program, ctx);
  registerQueueCommand(program, ctx);
  registerEvalCommand(program, ctx);
  registerBenchCommand(program, ctx);
  registerModelsCommand(program, ctx);
  registerDemoCommand(program, ctx);
  registerAppCommand(program, ctx);
  // Sub-commands inherit output routing, help settings and exitOverride (commander copies them on .command()).
  return program;
}

/**
 * Run the CLI with `argv` = the arguments after the program name (e.g. ["eval", "--pred", "p", "--gt", "g"]).
 * Resolves to the exit code; never throws and never calls process.exit.
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo(), deps: Partial<CliDeps> = {}): Promise<number> {
  const program = buildProgram(io, { ...defaultDeps, ...deps });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (err) {
    const debug = argv.includes('--debug');
    return handleCliError(err, io, { debug });
  }
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  process.exitCode = await runCli(process.argv.slice(2));
}
