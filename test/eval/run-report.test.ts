import { describe, expect, it } from 'vitest';
import { renderRunReport, sortWorstFirst, type RunReportImage, type RunReportInput } from '../../src/eval/run-report.js';
import type { ImageQuality } from '../../src/eval/quality-score.js';

const CLASSES = [
  { cls: 1, name: 'lung', color: [31, 119, 255] as const },
  { cls: 2, name: 'heart <b>', color: [186, 85, 211] as const },
];

function q(id: string, score: number, heartFlag: 'ok' | 'check' = 'ok'): ImageQuality {
  return {
    id,
    score,
    flag: score < 0.5 ? 'check' : 'ok',
    reasons: score < 0.5 ? ['class 2: warp folds (3.0% of the region)'] : [],
    perClass: CLASSES.map(({ cls }) => ({ cls, score, flag: cls === 2 ? heartFlag : 'ok', reasons: [], signals: { ncc: 0.42 }, relative: 0, absolute: 0 })),
    signals: { ssim: 0.6 },
  };
}

const picture = { mime: 'image/webp', bytes: Uint8Array.from([1, 2, 3]), width: 4, height: 2 };

function img(id: string, score: number | undefined, extra: Partial<RunReportImage> = {}): RunReportImage {
  return { id, width: 8, height: 4, picture, areas: [{ cls: 1, pixels: 8 }, { cls: 2, pixels: 4 }], quality: score === undefined ? undefined : q(id, score), ...extra };
}

const base = (images: RunReportImage[]): RunReportInput => ({ title: 'run <1>', classes: CLASSES, images });

const cardIds = (html: string) => [...html.matchAll(/<article class="card"[^>]* data-id="([^"]*)"/g)].map((m) => m[1]);

describe('renderRunReport', () => {
  it('cards come worst quality first; images without a score last', () => {
    const html = renderRunReport(base([img('b', 0.9), img('none', undefined), img('a', 0.2), img('c', 0.5)]));
    expect(cardIds(html)).toEqual(['a', 'c', 'b', 'none']);
  });

  it('is self-contained: a CSP that forbids every fetch but data: images, no URL to any other resource', () => {
    const html = renderRunReport(base([img('a', 0.2, { overlay: { ...picture, mime: 'image/png' } })]));
    expect(html).toContain(`content="default-src 'none'; img-src data:;`);
    expect(html).not.toMatch(/(src|href)="(?!data:)[^"#]/);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).toContain('data-src="data:image/webp;base64,AQID"');
    expect(html).toContain('data-src="data:image/png;base64,AQID"');
  });

  it('escapes ids, titles and class names', () => {
    const html = renderRunReport(base([img('x"><script>alert(1)</script>', 0.3)]));
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('<title>run &lt;1&gt;</title>');
    expect(html).toContain('heart &lt;b&gt;');
  });

  it('carries the sort and filter keys: image score and flag, per-class scores and flags in class order', () => {
    const one: RunReportImage = { ...img('a', 0.25), quality: q('a', 0.25, 'check') };
    const html = renderRunReport(base([one]));
    expect(html).toMatch(/data-q="0\.25" data-f="check" data-cq="0\.25 0\.25" data-cf="ok check"/);
    expect(html).toContain('class 2: warp folds (3.0% of the region)');
    expect(html).toContain('flagged &quot;check&quot;</td><td>1 (100.0%)');
  });

  it('shows Dice / IoU only with ground truth, and their means in the summary', () => {
    const without = renderRunReport(base([img('a', 0.9)]));
    expect(without).not.toContain('<th>Dice</th>');
    expect(without).not.toContain('value="dice-asc"');
    const scores = [{ cls: 1, dice: 0.9, iou: 0.8 }, { cls: 2, dice: 0.7, iou: 0.5 }];
    const withGt = renderRunReport(base([img('a', 0.9, { scores })]));
    expect(withGt).toContain('<th>Dice</th>');
    expect(withGt).toContain('value="dice-asc"');
    expect(withGt).toContain('data-d="0.8"');
    expect(withGt).toContain('heart &lt;b&gt; Dice / IoU</td><td>70.0% / 50.0%');
  });

  it('draws points and boxes as SVG in the original frame', () => {
    const html = renderRunReport(base([img('a', 0.9, { marks: [{ cls: 2, points: [{ x: 1, y: 2, label: 1 }, { x: 3, y: 0, label: 0 }], box: { x0: 1, y0: 1, x1: 4, y1: 2 } }] })]));
    expect(html).toContain('<svg class="marks" viewBox="0 0 8 4"');
    expect(html).toContain('<rect x="1" y="1" width="4" height="2" fill="none" stroke="rgb(186,85,211)"');
    expect(html).toMatch(/<circle cx="1\.5" cy="2\.5" r="[\d.]+" class="pos"/);
    expect(html).toMatch(/<circle cx="3\.5" cy="0\.5" r="[\d.]+" class="neg"/);
  });
});

describe('sortWorstFirst', () => {
  it('ties in quality fall back to mean Dice, then id', () => {
    const s = (dice: number) => [{ cls: 1, dice, iou: 0 }];
    const order = sortWorstFirst([img('z', 0.5, { scores: s(0.9) }), img('y', 0.5, { scores: s(0.4) }), img('x', 0.5, { scores: s(0.9) })]);
    expect(order.map((i) => i.id)).toEqual(['y', 'x', 'z']);
  });
});
