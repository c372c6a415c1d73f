/**
 * `medpersam demo`: write a seeded phantom dataset (chest-like images with two lungs and a heart) so the other
 * commands can be tried without real data. Segmentation of the demo set comes with the segment command.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { MedpersamUserError } from '../../errors.js';
import type { CliContext } from '../context.js';
import { writeLine } from '../io.js';

export interface DemoCommandOptions {
  out: string;
  count: string;
  seed: string;
  size: string;
  force?: boolean;
}

function parseIntegerOption(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new MedpersamUserError('BAD_OPTION', `${name} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

export function registerDemoCommand(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description('write a synthetic chest phantom dataset (images/, masks/, classes.json) to try the other commands')
    .option('--out <dir>', 'output folder', 'medpersam-demo')
    .option('--count <n>', 'number of phantom images', '8')
    .option('--seed <s>', 'random seed (same seed = same dataset)', '1')
    .option('--size <px>', 'image width and height in pixels', '256')
    .option('--force', 'write into a folder that already holds images or masks')
    .addHelpText('after', '\nExample:\n  medpersam demo --out demo/ --count 8 --seed 1')
    .action(async (opts: DemoCommandOptions, command: Command) => {
      const count = parseIntegerOption('--count', opts.count, 1, 10000);
      const seed = parseIntegerOption('--seed', opts.seed, 0, 2 ** 32 - 1);
      const size = parseIntegerOption('--size', opts.size, 16, 4096);
      const out = resolve(opts.out);
      const progress = ctx.progress(command);
      let result;
      try {
        result = await ctx.deps.writePhantomDataset(out, {
          count,
          seed,
          width: size,
          height: size,
          overwrite: opts.force === true,
          onProgress: progress.onProgress,
        });
      } finally {
        progress.stop();
      }
      const { stdout } = ctx.io;
      writeLine(stdout, `wrote ${result.items.length} phantom images (${size}x${size}, seed ${seed}) to ${result.root}`);
      writeLine(stdout, `  images:  ${result.imagesDir}`);
      writeLine(stdout, `  masks:   ${result.masksDir}  (0 background, 1 right lung, 2 left lung, 3 heart)`);
      writeLine(stdout, `  classes: ${result.classesPath}`);
      if (!ctx.flags(command).quiet) {
        const ref = result.items[0]!;
        writeLine(stdout);
        writeLine(stdout, 'next: score masks against the ground truth (here the ground truth against itself):');
        writeLine(stdout, `  medpersam eval --pred ${result.masksDir} --gt ${result.masksDir} --classes ${result.classesPath}`);
        writeLine(stdout, 'segmentation from the first image (not available yet in this build):');
        writeLine(
          stdout,
          `  medpersam segment --ref ${ref.imagePath} --ref-mask ${ref.maskPath} --images ${result.imagesDir} --out ${resolve(out, 'results')}`,
        );
      }
    });
}
