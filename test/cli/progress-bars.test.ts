import { describe, expect, it } from 'vitest';
import { createProgressRenderer } from '../../src/cli/progress-bars.js';

function fakeStream(isTTY: boolean) {
  let text = '';
  return { stream: { isTTY, columns: 120, write: (s: string) => ((text += s), true) }, text: () => text };
}

describe('createProgressRenderer', () => {
  it('draws nothing when disabled', () => {
    const s = fakeStream(true);
    const r = createProgressRenderer({ stream: s.stream, enabled: false });
    r.onProgress({ stage: 'eval', done: 1, total: 4 });
    r.stop();
    expect(s.text()).toBe('');
  });

  it('draws one bar per stage with counts and an ETA, and closes it', () => {
    const s = fakeStream(true);
    const r = createProgressRenderer({ stream: s.stream, enabled: true });
    r.onProgress({ stage: 'eval', done: 0, total: 4 });
    r.onProgress({ stage: 'eval', done: 4, total: 4, message: 'img3' });
    r.onProgress({ stage: 'report', done: 0, total: 2 });
    r.stop();
    const text = s.text();
    expect(text).toContain('eval [');
    expect(text).toContain('4/4 100%');
    expect(text).toContain('ETA');
    expect(text).toContain('img3');
    expect(text).toContain('report [');
    expect(text).toContain('0/2');
    expect(text.endsWith('\n') || text.endsWith('\x1B[?25h')).toBe(true);
  });
});
