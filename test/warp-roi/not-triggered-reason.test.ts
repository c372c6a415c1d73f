import { describe, expect, it } from 'vitest';
import { notTriggeredReason, roiReportLine } from '../../src/warp/roi-stage.js';

const object = (cls: number, small: boolean, outlineContrast: number | null, visible: boolean, triggered = false) => ({
  cls,
  box: { x0: 0, y0: 0, x1: 9, y1: 9 },
  extent: small ? 0.05 : 0.5,
  thicknessFraction: 0.03,
  thicknessWorkingPx: 4,
  elongation: 2,
  small,
  thin: false,
  outlineContrast,
  visible,
  triggered,
});

describe('why the region-of-interest stage did not run (bench table, run report)', () => {
  it('names the mode, no small object, or the small objects the image hardly shows with their contrast', () => {
    expect(notTriggeredReason({ mode: 'off', objects: [object(1, true, 0.5, true)] })).toBe('mode off');
    expect(notTriggeredReason({ mode: 'auto', objects: [object(1, false, 0.05, true)] })).toBe('mode auto; no object small or thin against the image');
    expect(notTriggeredReason({ mode: 'auto', objects: [object(1, false, 0.06, true), object(4, true, 0.0461, false), object(5, true, 0.066, false)] })).toBe(
      'mode auto; small or thin objects whose outline the reference image hardly shows (outline contrast class 4 0.046, class 5 0.066, below the threshold)',
    );
    // candidates whose crop models did not beat the global warp on the held-out images: their evidence
    const evidence = (gain: number, improved: number) => ({ basis: 'held-out' as const, images: 3, nccGlobal: 0.4, nccLocal: 0.4 + gain, gain, improved, kept: false });
    expect(
      notTriggeredReason({
        mode: 'auto',
        objects: [
          { ...object(1, true, 0.03, true, true), evidence: evidence(-0.0123, 1) },
          { ...object(2, true, 0.03, true, true), evidence: evidence(0.004, 1) },
        ],
      }),
    ).toBe("mode auto; no crop refinement improved the held-out images' similarity over the global warp (NCC gain class 1 -0.012 (1/3), class 2 +0.004 (1/3))");
    // a plan with crops that a session did not need (a resumed run with every mask written)
    expect(notTriggeredReason({ mode: 'auto', objects: [object(1, true, 0.5, true, true)] })).toBe('mode auto; crops planned but not needed in this session');
  });

  it("the report's line lists each crop and each candidate's decision with its evidence", () => {
    const kept = { basis: 'held-out' as const, images: 3, nccGlobal: 0.3818, nccLocal: 0.4181, gain: 0.0363, improved: 3, kept: true };
    const dropped = { ...kept, nccLocal: 0.35, gain: -0.0318, improved: 0, kept: false };
    const summary = {
      mode: 'auto',
      costRatio: 0.75,
      heldOut: 3,
      objects: [
        { ...object(1, false, 0.03, true, true), evidence: kept },
        { ...object(2, false, 0.03, true, true), evidence: dropped },
      ],
      crops: [
        { frame: { x0: 242, y0: 44, width: 321, height: 182 }, classes: [1], resolution: 128, steps: 187, kept: true },
        { frame: { x0: 511, y0: 43, width: 302, height: 189 }, classes: [2], resolution: 128, steps: 187, kept: false },
      ],
    };
    const names = (cls: number) => (cls === 1 ? 'right clavicle' : 'left clavicle');
    expect(roiReportLine(summary, true, names)).toBe(
      'crop 321×182 px at (242, 44) of the reference, classes 1, 128 px grid; ' +
        'crop 302×189 px at (511, 43) of the reference, classes 2, 128 px grid (not used); ' +
        'right clavicle: refined (local NCC 0.382 → 0.418, +0.036, better on 3/3 held-out images); ' +
        'left clavicle: global warp kept (local NCC 0.382 → 0.350, -0.032, better on 0/3 held-out images)',
    );
    expect(roiReportLine({ ...summary, mode: 'off' }, false)).toBe('not run (mode off)');
  });
});
