/**
 * bin/malloc-tuning.js: when the launcher restarts a long run with glibc's mmap threshold fixed. The default ('auto')
 * tunes only runs whose SAM encoder is large; the encoders here are sparse files (their size is all that is read).
 */
import { mkdtemp, mkdir, open, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_SAM_MODEL_ID,
  LARGE_ENCODER_BYTES,
  mallocTuningDecision,
  medpersamHomeFolder,
  samEncoderBytes,
  samOptionValue,
} from '../../bin/malloc-tuning.js';
import { DEFAULT_SAM_MODEL } from '../../src/cli/commands/options.js';
import { medpersamHome } from '../../src/sam/home.js';

/** A model folder with an encoder of `encoderBytes` (sparse) and a 16 MB decoder (sparse). */
async function modelFolder(dir: string, encoderBytes: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const [name, size] of [['encoder.onnx', encoderBytes], ['decoder.onnx', 16_481_514]] as const) {
    const f = await open(join(dir, name), 'w');
    await f.truncate(size);
    await f.close();
  }
  await writeFile(join(dir, 'README.md'), 'not an ONNX file');
  return dir;
}

let root: string;
let vitB: string;
let mobile: string;
let home: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'malloc-tuning-'));
  vitB = await modelFolder(join(root, 'vit-b'), 358_746_430);
  mobile = await modelFolder(join(root, 'mobile'), 28_000_000);
  home = join(root, 'home');
  await modelFolder(join(home, 'models', 'sam-vit-b'), 358_746_430);
  await modelFolder(join(home, 'models', DEFAULT_SAM_MODEL_ID), 28_000_000);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const linux = { platform: 'linux', glibc: true } as const;

describe('bin/malloc-tuning.js', () => {
  it('reads --sam as the CLI does (either form, last wins, default model when absent)', () => {
    expect(samOptionValue(['--ref', 'a.png', '--sam', 'x'])).toBe('x');
    expect(samOptionValue(['--sam=./m', '--out', 'o'])).toBe('./m');
    expect(samOptionValue(['--sam', 'a', '--sam=b'])).toBe('b');
    expect(samOptionValue(['--out', 'o'])).toBe(DEFAULT_SAM_MODEL_ID);
    expect(samOptionValue(['--sam'])).toBe(DEFAULT_SAM_MODEL_ID);
    // The launcher's copies of the CLI's default model and home folder stay equal to the CLI's own.
    expect(DEFAULT_SAM_MODEL_ID).toBe(DEFAULT_SAM_MODEL);
    for (const value of [undefined, '', '  ', '~', '~/mp', '/abs/mp', 'rel/mp']) {
      const env = value === undefined ? {} : { MEDPERSAM_HOME: value };
      expect(medpersamHomeFolder(env), String(value)).toBe(medpersamHome(env));
    }
    expect(medpersamHomeFolder({ MEDPERSAM_HOME: '~/mp' })).toBe(join(homedir(), 'mp'));
  });

  it('finds the encoder size of a folder or of an installed model id (the largest .onnx file)', () => {
    expect(samEncoderBytes(vitB, {})).toBe(358_746_430);
    expect(samEncoderBytes(mobile, {})).toBe(28_000_000);
    expect(samEncoderBytes('sam-vit-b', { MEDPERSAM_HOME: home })).toBe(358_746_430);
    expect(samEncoderBytes('sam-vit-b', { MEDPERSAM_HOME: join(root, 'empty-home') })).toBeUndefined();
    expect(samEncoderBytes(join(root, 'missing'), { MEDPERSAM_HOME: home })).toBeUndefined();
    // A path-like value is a folder only, never looked up under the home folder.
    expect(samEncoderBytes('./sam-vit-b', { MEDPERSAM_HOME: home })).toBeUndefined();
  });

  it('auto mode tunes segment and bench with a large SAM encoder only', () => {
    const env = { MEDPERSAM_HOME: home };
    const decide = (argv: string[], extraEnv: Record<string, string> = {}, platform = linux) =>
      mallocTuningDecision({ argv, env: { ...env, ...extraEnv }, ...platform });
    expect(358_746_430).toBeGreaterThanOrEqual(LARGE_ENCODER_BYTES);
    expect(28_000_000).toBeLessThan(LARGE_ENCODER_BYTES);
    expect(decide(['segment', '--ref', 'r.png', '--sam', vitB])).toMatchObject({ tune: true, reason: expect.stringMatching(/^SAM encoder 359 MB ≥ 100 MiB$/) });
    expect(decide(['bench', '--sam=sam-vit-b']).tune).toBe(true);
    expect(decide(['bench', '--sam', 'sam-vit-b'], { MEDPERSAM_MALLOC_TUNING: 'auto' }).tune).toBe(true);
    expect(decide(['segment', '--sam', mobile])).toMatchObject({ tune: false, reason: 'SAM encoder 28 MB < 100 MiB' });
    expect(decide(['segment', '--out', 'o']).tune).toBe(false); // the default model (MobileSAM) installed
    expect(decide(['segment', '--sam', 'none'])).toMatchObject({ tune: false, reason: 'no SAM model (--sam none)' });
    expect(decide(['segment', '--sam', join(root, 'missing')]).tune).toBe(false);
    expect(decide(['eval', '--sam', vitB]).tune).toBe(false);
    expect(decide(['models', 'verify', vitB]).tune).toBe(false);
    expect(decide([]).tune).toBe(false);
    expect(decide(['segment', '--sam', vitB], {}, { platform: 'darwin', glibc: false } as never).tune).toBe(false);
    expect(decide(['segment', '--sam', vitB], {}, { platform: 'linux', glibc: false } as never).tune).toBe(false);
  });

  it('MEDPERSAM_MALLOC_TUNING=1/0 force it on/off; a MALLOC_MMAP_THRESHOLD_ already set wins; a bad value warns and means auto', () => {
    const decide = (argv: string[], env: Record<string, string>) => mallocTuningDecision({ argv, env, ...linux });
    expect(decide(['segment', '--sam', mobile], { MEDPERSAM_MALLOC_TUNING: '1' }).tune).toBe(true);
    expect(decide(['segment', '--sam', vitB], { MEDPERSAM_MALLOC_TUNING: '0' }).tune).toBe(false);
    expect(decide(['segment', '--sam', vitB], { MALLOC_MMAP_THRESHOLD_: '65536' }).tune).toBe(false);
    expect(decide(['segment', '--sam', mobile], { MALLOC_MMAP_THRESHOLD_: '65536', MEDPERSAM_MALLOC_TUNING: '1' }).tune).toBe(false);
    const bad = decide(['segment', '--sam', vitB], { MEDPERSAM_MALLOC_TUNING: 'yes' });
    expect(bad).toMatchObject({ tune: true, warning: 'warning: MEDPERSAM_MALLOC_TUNING=yes is not 0, 1 or auto; using auto' });
    expect(decide(['segment', '--sam', vitB], { MEDPERSAM_MALLOC_TUNING: '1' }).warning).toBeUndefined();
    // In the restarted child (threshold set) no warning is given a second time.
    expect(decide(['segment', '--sam', vitB], { MEDPERSAM_MALLOC_TUNING: 'yes', MALLOC_MMAP_THRESHOLD_: '1048576' }).warning).toBeUndefined();
  });
});
