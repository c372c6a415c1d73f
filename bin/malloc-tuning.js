// Whether bin/medpersam.js restarts a long run with glibc's mmap threshold fixed (MALLOC_MMAP_THRESHOLD_, which glibc
// reads only at process start). Plain JavaScript without dependencies: the launcher decides before it loads the CLI,
// so the parent process that waits for the child stays small (~40 MB; loading the CLI would make it ~180 MB).
//
// Why: ONNX Runtime runs SAM's encoder without its memory arena, and with glibc's default (a threshold that grows up to
// 32 MiB) the tensors it frees stay in the heap. Measured on the 2-core machine: a 5-image `bench` with a
// real-architecture SAM ViT-B (358 MB encoder) peaks at 4.04 GB with a 1 MiB threshold instead of 4.42–4.54 GB (one
// encode alone: 4.01 → 3.57 GB), but warp training and decoding run ~8 % slower (page faults of freshly mapped
// buffers). MobileSAM (28 MB encoder) peaks at ~1.5 GB either way, so it would pay the 8 % for nothing. Hence the
// default ('auto'): tune only when the SAM model's encoder is large.
import { readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** The commands that run long enough for the restart to pay (they load SAM). */
export const LONG_RUNS = new Set(['segment', 'bench']);
/** The mmap threshold a tuned run gets (bytes). */
export const TUNED_MMAP_THRESHOLD = '1048576';
/** An encoder at least this large (bytes) gets the tuning in 'auto' mode: between MobileSAM (28 MB) and ViT-B (358 MB). */
export const LARGE_ENCODER_BYTES = 100 * 1024 * 1024;
/** The SAM model used when --sam is not given: the CLI's DEFAULT_SAM_MODEL (src/cli/commands/options.ts; a test keeps them equal). */
export const DEFAULT_SAM_MODEL_ID = 'mobile-sam';

/**
 * The value of `--sam` in a command's arguments (`--sam X` or `--sam=X`; the last one wins, as in the CLI's option
 * parser), or the default model id when absent.
 * @param {string[]} args the arguments after the command name
 * @returns {string}
 */
export function samOptionValue(args) {
  let value = DEFAULT_SAM_MODEL_ID;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--') break;
    if (args[i] === '--sam' && i + 1 < args.length) value = args[++i];
    else if (args[i].startsWith('--sam=')) value = args[i].slice('--sam='.length);
  }
  return value;
}

/**
 * medpersam's home folder, as src/sam/home.ts medpersamHome computes it ($MEDPERSAM_HOME, `~` expanded, or
 * ~/.cache/medpersam; a test keeps the two equal).
 * @param {Record<string, string | undefined>} env
 * @returns {string}
 */
export function medpersamHomeFolder(env) {
  const fromEnv = env.MEDPERSAM_HOME?.trim();
  if (fromEnv) {
    if (fromEnv === '~') return homedir();
    if (fromEnv.startsWith('~/')) return join(homedir(), fromEnv.slice(2));
    return resolve(fromEnv);
  }
  return join(homedir(), '.cache', 'medpersam');
}

/**
 * Size in bytes of the SAM model's encoder, taken as the largest .onnx file in its folder (SAM's image encoder is
 * larger than its prompt decoder in every SAM variant). `samValue` is a folder, or a model id installed under
 * <home>/models/<id>; undefined when no such folder with .onnx files exists (the CLI then reports the problem itself).
 * @param {string} samValue
 * @param {Record<string, string | undefined>} env
 * @returns {number | undefined}
 */
export function samEncoderBytes(samValue, env) {
  const folders = [resolve(samValue)];
  if (!/[\\/]/.test(samValue) && !samValue.startsWith('.') && !samValue.startsWith('~')) {
    folders.push(join(medpersamHomeFolder(env), 'models', samValue));
  }
  for (const folder of folders) {
    let entries;
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch {
      continue;
    }
    const sizes = entries
      .filter((e) => e.isFile() && e.name.toLowerCase().endsWith('.onnx'))
      .map((e) => statSync(join(folder, e.name)).size);
    if (sizes.length > 0) return Math.max(...sizes);
  }
  return undefined;
}

/**
 * The launcher's decision. MEDPERSAM_MALLOC_TUNING: '1' = always for long runs, '0' = never, unset or 'auto' = when
 * the SAM encoder is at least LARGE_ENCODER_BYTES. Only on Linux with glibc, only for `segment` and `bench` with
 * SAM, and never when MALLOC_MMAP_THRESHOLD_ is already set (the user's own setting wins).
 * @param {{ argv: string[], env: Record<string, string | undefined>, platform: string, glibc: boolean }} input
 *   argv: the arguments after `medpersam` (the command first)
 * @returns {{ tune: boolean, reason: string, warning?: string }}
 */
export function mallocTuningDecision({ argv, env, platform, glibc }) {
  const [command, ...args] = argv;
  if (platform !== 'linux' || !glibc) return { tune: false, reason: 'not Linux with glibc' };
  if (!LONG_RUNS.has(command)) return { tune: false, reason: `not a long run (${command ?? 'no command'})` };
  // Also true in the restarted child, so its decision is made (and any warning given) once, by the parent.
  if (env.MALLOC_MMAP_THRESHOLD_ !== undefined) return { tune: false, reason: 'MALLOC_MMAP_THRESHOLD_ already set' };
  const setting = env.MEDPERSAM_MALLOC_TUNING;
  const warning =
    setting !== undefined && !['0', '1', 'auto', ''].includes(setting)
      ? `warning: MEDPERSAM_MALLOC_TUNING=${setting} is not 0, 1 or auto; using auto`
      : undefined;
  /** @type {(tune: boolean, reason: string) => { tune: boolean, reason: string, warning?: string }} */
  const decide = (tune, reason) => (warning ? { tune, reason, warning } : { tune, reason });
  if (setting === '0') return decide(false, 'MEDPERSAM_MALLOC_TUNING=0');
  if (setting === '1') return decide(true, 'MEDPERSAM_MALLOC_TUNING=1');
  const sam = samOptionValue(args);
  if (sam === 'none') return decide(false, 'no SAM model (--sam none)');
  const bytes = samEncoderBytes(sam, env);
  if (bytes === undefined) return decide(false, `SAM model "${sam}" not found (the CLI reports it)`);
  const mb = (bytes / 1e6).toFixed(0);
  return bytes >= LARGE_ENCODER_BYTES
    ? decide(true, `SAM encoder ${mb} MB ≥ ${LARGE_ENCODER_BYTES / 1024 / 1024} MiB`)
    : decide(false, `SAM encoder ${mb} MB < ${LARGE_ENCODER_BYTES / 1024 / 1024} MiB`);
}
