import { describe, expect, it } from 'vitest';
import { notTriggeredReason } from '../../src/warp/roi-stage.js';

const object = (cls: number, small: boolean, outlineContrast: number | null, visible: boolean, triggered = false) => ({
  cls,
  box: { x0: 0, y0: 0, x1: 9, y1: 9 },
  extent: small ? 0.05 : 0.5,
  thicknessWorkingPx: 4,
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
    // a plan with crops that a session did not need (a resumed run with every mask written)
    expect(notTriggeredReason({ mode: 'auto', objects: [object(1, true, 0.5, true, true)] })).toBe('mode auto; crops planned but not needed in this session');
  });
});
