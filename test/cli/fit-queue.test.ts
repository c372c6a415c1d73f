/** The CLI of fit / segment --bundle / queue: option errors (exit 1, the message says what to do); no training. */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { captureIo } from './helpers.js';

async function run(args: string[]): Promise<{ code: number; err: string }> {
  const io = captureIo();
  const code = await runCli(args, io);
  return { code, err: io.err() };
}

describe('fit / segment --bundle / queue options', () => {
  it('segment needs --ref and --ref-mask unless --bundle is given', async () => {
    const r = await run(['segment', '--images', 'x', '--out', 'y', '--sam', 'none']);
    expect(r.code).toBe(1);
    expect(r.err).toContain("required option '--ref <file>' not specified (or pass --bundle)");
  });
  it('segment --bundle refuses a reference or warp model of its own', async () => {
    const r = await run(['segment', '--bundle', 'b', '--ref', 'r.png', '--images', 'x', '--out', 'y']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('--bundle brings its own reference, warp model and SAM choice');
  });
  it('fit refuses the PerSAM baseline (no warp model to bundle) and SAM flags with --sam none', async () => {
    const persam = await run(['fit', '--ref', 'r.png', '--ref-mask', 'm.png', '--images', 'x', '--out', 'b', '--sam', 'mobile-sam', '--method', 'persam']);
    expect(persam.code).toBe(1);
    expect(persam.err).toContain('the PerSAM baseline has no warp model to put in a bundle');
    const none = await run(['fit', '--ref', 'r.png', '--ref-mask', 'm.png', '--images', 'x', '--out', 'b', '--sam', 'none', '--rounds', '2']);
    expect(none.code).toBe(1);
    expect(none.err).toContain('--rounds');
  });
  it('queue commands refuse a non-Redis URL without printing its password', async () => {
    const r = await run(['queue', 'status', '--redis', 'http://u:s3cret@h:1']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('must start with redis:// or rediss://');
    expect(r.err).not.toContain('s3cret');
  });
  it('queue submit needs exactly one of --images and --list', async () => {
    const r = await run(['queue', 'submit', '--redis', 'redis://127.0.0.1:1', '--bundle', 'b', '--out', 'o']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('give exactly one of --images and --list');
  });
});
