/**
 * `medpersam bench`: the paper protocol on a dataset folder (reference = first image alphabetically,
 * segment the others, evaluate). Not in this build yet; the options are final.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notAvailable } from './not-available.js';

export interface BenchCommandOptions {
  /** Dataset folder: images/, masks/, optional classes.json. */
  dataset: string;
  /** SAM model id, folder, or "none". */
  sam: string;
  /** Output folder for predictions and the report. */
  out?: string;
}

export function registerBenchCommand(program: Command, _ctx: CliContext): void {
  program
    .command('bench')
    .description('run the paper protocol on a dataset (reference = first image alphabetically) and report Dice/IoU')
    .requiredOption('--dataset <dir>', 'dataset folder with images/, masks/ and optional classes.json')
    .option('--sam <id|dir|none>', 'SAM model id, model folder, or "none" for the warp model alone', 'none')
    .option('--out <dir>', 'output folder for predictions and reports')
    .addHelpText('after', '\nExample:\n  medpersam bench --dataset data/jsrt-scr --sam none --out bench-out/')
    .action(async (_opts: BenchCommandOptions) => {
      throw notAvailable('bench (needs the segmentation pipeline)');
    });
}
