import { describe, expect, it } from 'vitest';
import type { ClassScore } from '../../src/eval/metrics.js';
import { base64Encode, buildSummary, escapeHtml, renderHtmlReport, toCsv, toJson } from '../../src/eval/report.js';

function sc(cls: number, dice: number, iou: number): ClassScore {
  return { cls, dice, iou, predPixels: 10, gtPixels: 10 };
}

const images = [
  { id: 'b', scores: [sc(1, 1, 1), sc(2, 0.5, 1 / 3)] },
  { id: 'a', scores: [sc(1, 0.25, 0.2), sc(2, 0, 0)], missing: true },
  { id: 'c', scores: [sc(1, 0.75, 0.6)] }, // class 2 absent → both empty → 1
];
const names = new Map([
  [0, 'background'],
  [1, 'lung'],
  [2, 'heart'],
]);

describe('buildSummary', () => {
  const s = buildSummary(images, { classNames: names });
  it('per-image rows in input order with per-class scores and means', () => {
    expect(s.images.map((r) => r.id)).toEqual(['b', 'a', 'c']);
    expect(s.images[0]!.meanDice).toBeCloseTo(0.75, 12);
    expect(s.images[1]!.meanIoU).toBeCloseTo(0.1, 12);
    expect(s.images[2]!.perClass[1]).toEqual({ cls: 2, dice: 1, iou: 1, predPixels: 0, gtPixels: 0 });
    expect(s.images[2]!.meanDice).toBeCloseTo(0.875, 12);
  });
  it('per-class means over images, overall = mean of class means, missing listed', () => {
    expect(s.classes.map((c) => [c.cls, c.name])).toEqual([
      [1, 'lung'],
      [2, 'heart'],
    ]);
    expect(s.classes[0]!.dice).toBeCloseTo(2 / 3, 12);
    expect(s.classes[1]!.dice).toBeCloseTo(0.5, 12);
    expect(s.meanDice).toBeCloseTo((2 / 3 + 0.5) / 2, 12);
    expect(s.classes[0]!.iou).toBeCloseTo(0.6, 12);
    expect(s.count).toBe(3);
    expect(s.missing).toEqual(['a']);
  });
  it('explicit class list and no images', () => {
    const only1 = buildSummary(images, { classes: [1] });
    expect(only1.classes).toHaveLength(1);
    expect(only1.classes[0]!.name).toBe('class 1');
    expect(only1.images[0]!.meanDice).toBe(1);
    const empty = buildSummary([]);
    expect(empty.count).toBe(0);
    expect(empty.meanDice).toBeNaN();
  });
});

describe('toCsv', () => {
  it('header, one row per image, mean row', () => {
    const csv = toCsv(buildSummary(images, { classNames: names }));
    expect(csv).toBe(
      [
        'id,dice_lung,iou_lung,dice_heart,iou_heart,mean_dice,mean_iou,missing',
        'b,1,1,0.5,0.333333,0.75,0.666667,0',
        'a,0.25,0.2,0,0,0.125,0.1,1',
        'c,0.75,0.6,1,1,0.875,0.8,0',
        'mean,0.666667,0.6,0.5,0.444444,0.583333,0.522222,1',
      ].join('\n') + '\n',
    );
  });
  it('quotes fields with commas and quotes', () => {
    const csv = toCsv(buildSummary([{ id: 'x,"y"', scores: [sc(1, 1, 1)] }]));
    expect(csv.split('\n')[1]).toBe('"x,""y""",1,1,1,1,0');
  });
});

describe('toJson', () => {
  it('stable structure, NaN → null', () => {
    const doc = JSON.parse(toJson(buildSummary(images, { classNames: names })));
    expect(Object.keys(doc)).toEqual(['format', 'version', 'count', 'meanDice', 'meanIoU', 'missing', 'classes', 'images']);
    expect(doc.format).toBe('medpersam-eval');
    expect(doc.version).toBe(1);
    expect(doc.missing).toEqual(['a']);
    expect(doc.classes[1]).toEqual({ cls: 2, name: 'heart', dice: 0.5, iou: expect.closeTo(4 / 9, 12) });
    expect(doc.images[2].perClass[1]).toEqual({ cls: 2, dice: 1, iou: 1, predPixels: 0, gtPixels: 0 });
    expect(JSON.parse(toJson(buildSummary([]))).meanDice).toBeNull();
  });
});

describe('base64 / escaping', () => {
  it('base64 matches Node for all tail lengths', () => {
    for (let n = 0; n < 12; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 97 + 13) & 255);
      expect(base64Encode(bytes)).toBe(Buffer.from(bytes).toString('base64'));
    }
    const big = Uint8Array.from({ length: 20000 }, (_, i) => (i * 31) & 255);
    expect(base64Encode(big)).toBe(Buffer.from(big).toString('base64'));
  });
  it('escapes HTML specials', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});

describe('renderHtmlReport', () => {
  const png = Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]);
  const evil = [...images, { id: '<script>alert(1)</script>', scores: [sc(1, 0.9, 0.8), sc(2, 0.9, 0.8)] }];
  const html = renderHtmlReport(buildSummary(evil, { classNames: names }), {
    title: 'Run <1>',
    thumbnails: new Map([['a', png]]),
    details: ['pred & gt'],
  });
  it('is one self-contained document with the summary', () => {
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script|<link|src="http/i);
    expect(html).toContain('<title>Run &lt;1&gt;</title>');
    expect(html).toContain('pred &amp; gt');
    expect(html).toContain('Mean Dice <b>66.3%</b>'); // classes: lung (1+.25+.75+.9)/4=.725, heart (.5+0+1+.9)/4=.6 → .6625
    expect(html).toContain('lung (1)');
    expect(html).toContain('Missing predictions (1');
  });
  it('embeds thumbnails as base64 data URIs', () => {
    expect(html).toContain(`src="data:image/png;base64,${Buffer.from(png).toString('base64')}"`);
    expect(html).toContain('no overlay');
  });
  it('escapes ids and orders the grid worst mean Dice first', () => {
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    const grid = html.slice(html.indexOf('class="grid"'));
    const order = ['a', 'b', 'c', '&lt;script&gt;'].map((id) => grid.indexOf(`<b>${id}`));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((x, y) => x - y)).toEqual(order);
  });
  it('is deterministic (no clock)', () => {
    const again = renderHtmlReport(buildSummary(evil, { classNames: names }), {
      title: 'Run <1>',
      thumbnails: { a: png },
      details: ['pred & gt'],
    });
    expect(again).toBe(html);
  });
});
