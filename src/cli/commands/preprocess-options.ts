/**
 * Flags of the warp model's per-image preprocessing (issue 8 item 3: every kind of scan): initial alignment,
 * polarity, colour projection, image loss, denoising. Each defaults to the preset's automatic choice; what was chosen is in
 * the run record (run.json / run-record.json: `preprocessing`).
 */
import { Option, type Command } from 'commander';
import type { ColourMode } from '../../image/colour.js';
import type { PolarityMode, PrealignMethod } from '../../warp/prealign.js';
import type { DenoiseMode, WarpPreprocessOptions, WorkingFill } from '../../warp/preprocess.js';
import type { ImageLossMode } from '../../warp/trainer.js';

export interface PreprocessCliOptions {
  prealign?: PrealignMethod;
  polarity?: PolarityMode;
  colour?: ColourMode;
  loss?: ImageLossMode;
  fill?: WorkingFill;
  denoise?: DenoiseMode;
}

export function addPreprocessOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--prealign <method>', 'initial alignment of each image to the reference before the warp model: search (rotation/scale/shift), moments, none (default: from the preset; cpu: search)').choices(['search', 'moments', 'none']),
    )
    .addOption(new Option('--polarity <mode>', 'detect and undo intensity-inverted images (default: from the preset; cpu: auto)').choices(['auto', 'keep']))
    .addOption(
      new Option('--colour <mode>', "colour → grey projection fed to the warp model (default: auto, chosen on the reference's labelled edges)").choices(['auto', 'luminance', 'red', 'green', 'blue', 'lda']),
    )
    .addOption(new Option('--loss <kind>', 'warp image similarity loss (default: auto: NCC for padded or speckled images, else SSIM; ncc-ms: multi-scale NCC)').choices(['auto', 'ssim', 'ncc', 'ncc-ms']))
    .addOption(new Option('--fill <mode>', 'what aligned working pixels outside an image show (default: reference)').choices(['reference', 'zero']))
    .addOption(
      new Option('--denoise <mode>', "smooth the warp model's working copies of noisy (speckled) images: auto (when the reference is noisy), off (default: from the preset; cpu: auto)").choices(['auto', 'off']),
    );
}

/** The preprocessing and loss overrides of the flags the user gave (none given → the preset's values). */
export function preprocessOverrides(o: PreprocessCliOptions): { preprocess?: Partial<WarpPreprocessOptions>; imageLoss?: ImageLossMode } {
  const preprocess: Partial<WarpPreprocessOptions> = {};
  if (o.prealign !== undefined) preprocess.prealign = o.prealign;
  if (o.polarity !== undefined) preprocess.polarity = o.polarity;
  if (o.colour !== undefined) preprocess.colour = o.colour;
  if (o.fill !== undefined) preprocess.fill = o.fill;
  if (o.denoise !== undefined) preprocess.denoise = o.denoise;
  const out: { preprocess?: Partial<WarpPreprocessOptions>; imageLoss?: ImageLossMode } = {};
  if (Object.keys(preprocess).length > 0) out.preprocess = preprocess;
  if (o.loss !== undefined) out.imageLoss = o.loss;
  return out;
}
