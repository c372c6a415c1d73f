import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addWarpOptions, warpOverrides } from '../../src/cli/commands/options.js';

function parse(args: string[]): ReturnType<typeof warpOverrides> {
  const cmd = addWarpOptions(new Command('x').exitOverride());
  cmd.parse(['node', 'x', ...args]);
  return warpOverrides(cmd.opts());
}

describe('preprocessing flags', () => {
  it('map onto the warp settings overrides; omitted flags keep the preset', () => {
    expect(parse([])).toEqual({});
    expect(parse(['--prealign', 'moments', '--polarity', 'keep', '--colour', 'green', '--fill', 'zero', '--loss', 'ncc', '--denoise', 'off'])).toEqual({
      preprocess: { prealign: 'moments', polarity: 'keep', colour: 'green', fill: 'zero', denoise: 'off' },
      loss: { imageLoss: 'ncc' },
    });
    expect(parse(['--no-aug', '--loss', 'ssim']).loss).toEqual({ augmentation: false, imageLoss: 'ssim' });
  });

  it('reject values outside the choices', () => {
    expect(() => parse(['--prealign', 'rigid'])).toThrow(/prealign/);
    expect(() => parse(['--colour', 'purple'])).toThrow(/colour/);
    expect(() => parse(['--denoise', 'strong'])).toThrow(/denoise/);
  });
});

describe('coarse-to-fine flag', () => {
  it('--coarse-steps sets the schedule\'s coarse steps and rejects a non-integer', () => {
    expect(parse(['--steps', '300', '--coarse-steps', '200']).schedule).toEqual({ initialSteps: 300, coarseSteps: 200 });
    expect(() => parse(['--coarse-steps', 'x'])).toThrow(/--coarse-steps/);
  });
});
