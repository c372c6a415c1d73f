/**
 * How fast report.html opens and reacts in headless Chromium at 250 and 1,000 images (issue 10). Pictures are real
 * encodings as `segment` writes them (512 px WebP + indexed PNG overlay) of phantoms with a little noise (about
 * 8 KB per picture, 1.6× a JSRT chest X-ray's). Usage:
 *   npx tsx bench/report-open.ts [--sizes 250,1000] [--noise 2] [--runs 3]
 * Prints per size: file size, script ready and first screen decoded (page clock from navigation start, median of
 * the runs), and the time a re-sort and a filter take on the page.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { renderRunReport, type RunReportImage } from '../src/eval/run-report.js';
import type { ImageQuality } from '../src/eval/quality-score.js';
import { generatePhantom } from '../src/image/phantom.js';
import { classColor } from '../src/io/overlay-render.js';
import { reportPictures } from '../src/io/report-pictures.js';
import { sharpWebpGreyEncoder } from '../src/io/report-pictures-node.js';
import { benchArgs } from './args.js';

const { value, num } = benchArgs();
const sizes = (value('sizes') ?? '250,1000').split(',').map(Number);
const runs = num('runs') ?? 3;
const noise = num('noise') ?? 2;
const CLASSES = [1, 2, 3].map((cls) => ({ cls, name: ['right_lung', 'left_lung', 'heart'][cls - 1]!, color: classColor(cls) }));

const pictures: Awaited<ReturnType<typeof reportPictures>>[] = [];
for (let p = 0; p < 16; p++) {
  const ph = generatePhantom({ seed: 5, patient: p, width: 512, noise });
  pictures.push(await reportPictures(ph.image, ph.label, { encode: sharpWebpGreyEncoder }));
}
const quality = (i: number, n: number): ImageQuality => {
  const score = ((i * 7919) % n) / n;
  const flag = score < 0.2 ? 'check' : 'ok';
  return {
    id: `img${i}`,
    score,
    flag,
    reasons: flag === 'check' ? ['heart: unusual for this folder (nccEdge 3.1 SD worse than typical)'] : [],
    perClass: CLASSES.map(({ cls }) => ({ cls, score, flag, reasons: [], signals: { nccEdge: 0.5, logJacobianStd: 0.1, area: 0.1 }, relative: 0, absolute: 0 })),
    signals: { ssim: 0.6, ncc: 0.4 },
  };
};

/** Resolves when the script has run and the first screen's pictures are decoded: its times on the page clock. */
const OPEN_PROBE = `new Promise((resolve) => {
  function check() {
    const root = document.documentElement;
    if (root.dataset.ready !== '1') return requestAnimationFrame(check);
    const visible = Array.from(document.querySelectorAll('.card img')).filter((img) => {
      const b = img.getBoundingClientRect();
      return b.bottom > 0 && b.top < innerHeight;
    });
    if (visible.length === 0 || visible.some((img) => !img.src)) return requestAnimationFrame(check);
    Promise.all(visible.map((img) => img.decode())).then(() => resolve({ ready: Number(root.dataset.readyMs), open: performance.now() }));
  }
  check();
})`;

/** Milliseconds from a change of a select to the second frame after it (the page re-laid out). */
const reactProbe = (select: string, v: string) => `new Promise((resolve) => {
  const s = document.getElementById(${JSON.stringify(select)});
  const t0 = performance.now();
  s.value = ${JSON.stringify(v)};
  s.dispatchEvent(new Event('change'));
  requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
})`;

const dir = mkdtempSync(join(tmpdir(), 'medpersam-report-open-'));
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
try {
  for (const n of sizes) {
    const images: RunReportImage[] = Array.from({ length: n }, (_, i) => ({
      id: `img${i}`,
      width: 512,
      height: 512,
      ...pictures[i % pictures.length]!,
      marks: [{ cls: 1, points: [{ x: 100, y: 200, label: 1 }, { x: 30, y: 30, label: 0 }], box: { x0: 60, y0: 100, x1: 200, y1: 400 } }],
      areas: CLASSES.map(({ cls }) => ({ cls, pixels: 1000 * cls })),
      quality: quality(i, n),
      scores: CLASSES.map(({ cls }) => ({ cls, dice: 0.9, iou: 0.8 })),
    }));
    const t0 = performance.now();
    const html = renderRunReport({ title: `${n} images`, classes: CLASSES, images });
    const renderMs = performance.now() - t0;
    const file = join(dir, `report-${n}.html`);
    writeFileSync(file, html);
    const ready: number[] = [];
    const open: number[] = [];
    const sort: number[] = [];
    const filter: number[] = [];
    for (let r = 0; r < runs; r++) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`file://${file}`, { waitUntil: 'commit' });
      // As a string: tsx would wrap named functions in a helper that does not exist in the page.
      const t = (await page.evaluate(OPEN_PROBE)) as { ready: number; open: number };
      ready.push(t.ready);
      open.push(t.open);
      const react = async (select: string, v: string) => (await page.evaluate(reactProbe(select, v))) as number;
      sort.push(await react('sort', 'quality-desc'));
      filter.push(await react('flag', 'check'));
      await page.close();
    }
    const mb = statSync(file).size / 1e6;
    process.stdout.write(
      `${n} images: ${mb.toFixed(2)} MB (render ${renderMs.toFixed(0)} ms); script ready ${median(ready).toFixed(0)} ms, first screen decoded ` +
        `${median(open).toFixed(0)} ms (median of ${runs}; runs ${open.map((x) => x.toFixed(0)).join(', ')}); re-sort ${median(sort).toFixed(0)} ms, filter ${median(filter).toFixed(0)} ms\n`,
    );
  }
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
