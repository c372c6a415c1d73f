/**
 * report.html in a real browser (headless Chromium): a 250-image report opened from a file loads nothing but
 * itself, its pictures render, sorting, filtering and the enlarged view work, and it opens in under 3 s.
 *
 * The pictures are real encodings (io/report-pictures: 512 px WebP as `segment` writes them + indexed PNG overlay) of phantoms with a little
 * noise: about 8 KB each, 1.6× a JSRT chest X-ray's, so the page is heavier than a JSRT report of the same size.
 */
import { mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { renderRunReport, type RunReportImage } from '../../src/eval/run-report.js';
import type { ImageQuality } from '../../src/eval/quality-score.js';
import { generatePhantom } from '../../src/image/phantom.js';
import { classColor } from '../../src/io/overlay.js';
import { reportPictures } from '../../src/io/report-pictures.js';
import { sharpWebpGreyEncoder } from '../../src/io/report-pictures-node.js';
import { describeWithChromium, launchChromium, trackRequests, type LaunchedChromium } from '../fixtures/chromium.js';

const N = 250;
const DISTINCT = 12;
const CLASSES = [1, 2, 3].map((cls) => ({ cls, name: ['right_lung', 'left_lung', 'heart'][cls - 1]!, color: classColor(cls) }));

/** Image i: quality i/N (so the worst is img000), class 3 flagged on every 5th image, Dice rising with i. */
function quality(i: number): ImageQuality {
  const score = i / N;
  const perClass = CLASSES.map(({ cls }) => {
    const s = cls === 3 && i % 5 === 0 ? Math.min(score, 0.3) : score;
    return { cls, score: s, flag: s < 0.5 ? ('check' as const) : ('ok' as const), reasons: [], signals: { ncc: 0.5 }, relative: 0, absolute: 0 };
  });
  return { id: name(i), score, flag: score < 0.5 ? 'check' : 'ok', reasons: score < 0.5 ? ['low'] : [], perClass, signals: {} };
}
const name = (i: number) => `img${String(i).padStart(3, '0')}`;

describeWithChromium('report.html in headless Chromium', () => {
  let dir = '';
  let file = '';
  let chromium: LaunchedChromium;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'medpersam-report-'));
    const pics = [];
    for (let p = 0; p < DISTINCT; p++) {
      const ph = generatePhantom({ seed: 3, patient: p, width: 512, noise: 2 });
      pics.push({ ...(await reportPictures(ph.image, ph.label, { encode: sharpWebpGreyEncoder })), label: ph.label });
    }
    const images: RunReportImage[] = [];
    // Shuffled input order: the page must sort it.
    for (let k = 0; k < N; k++) {
      const i = (k * 97) % N;
      const pic = pics[i % DISTINCT]!;
      images.push({
        id: name(i),
        width: 512,
        height: 512,
        picture: pic.picture,
        overlay: pic.overlay,
        marks: [{ cls: 1, points: [{ x: 100, y: 200, label: 1 }, { x: 30, y: 30, label: 0 }], box: { x0: 60, y0: 100, x1: 200, y1: 400 } }],
        areas: CLASSES.map(({ cls }) => ({ cls, pixels: 1000 * cls })),
        quality: quality(i),
        scores: CLASSES.map(({ cls }) => ({ cls, dice: 0.5 + (0.5 * ((i * 37) % N)) / N, iou: 0.4 })),
      });
    }
    file = join(dir, 'report.html');
    writeFileSync(file, renderRunReport({ title: 'browser test', classes: CLASSES, images, settings: [['mode', 'warp only']], timingsS: [['train', 1]] }));
    chromium = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await chromium?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`opens ${N} images from the file in under 3 s with nothing requested but the file itself and data: pictures`, async () => {
    const page = await chromium.browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    const urls = trackRequests(page);
    const t0 = Date.now();
    await page.goto(`file://${file}`, { waitUntil: 'commit' });
    // Open = the page's script has run and the first screen of pictures is decoded (the only ones loaded), on the
    // page's own clock (0 = navigation start); checked every animation frame.
    const open = await page.evaluate(
      () =>
        new Promise<{ readyMs: number; openMs: number; pictures: number }>((resolve) => {
          const check = () => {
            const root = document.documentElement;
            if (root.dataset.ready !== '1') return requestAnimationFrame(check);
            const visible = Array.from(document.querySelectorAll<HTMLImageElement>('.card img')).filter((img) => {
              const r = img.getBoundingClientRect();
              return r.bottom > 0 && r.top < innerHeight;
            });
            // The page assigns the pictures as the cards come into view (IntersectionObserver, a frame later).
            if (visible.length === 0 || visible.some((img) => !img.src)) return requestAnimationFrame(check);
            void Promise.all(visible.map((img) => img.decode())).then(() =>
              resolve({ readyMs: Number(root.dataset.readyMs), openMs: performance.now(), pictures: visible.length }),
            );
          };
          check();
        }),
    );
    const wallMs = Date.now() - t0;
    const openMs = open.openMs;
    const bytes = statSync(file).size;
    console.log(
      `report.html with ${N} images: ${(bytes / 1e6).toFixed(2)} MB; script ready ${open.readyMs.toFixed(0)} ms, ` +
        `first ${open.pictures} pictures decoded ${openMs.toFixed(0)} ms (page clock); ${wallMs} ms wall from goto`,
    );
    expect(open.pictures).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    expect(openMs).toBeLessThan(3000);
    expect(urls.length).toBeGreaterThan(0);
    expect(urls.filter((u) => !u.startsWith('data:') && u !== `file://${file}`)).toEqual([]);
    await page.close();
  });

  it('renders the pictures of the first screen, and loads the others only when scrolled to', async () => {
    const page = await chromium.browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`file://${file}`);
    await page.waitForSelector('html[data-ready="1"]');
    const first = page.locator('.card').first();
    await expect.poll(() => first.locator('img.im').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(512);
    expect(await first.locator('img.ov').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(512);
    const last = page.locator('.card').last();
    expect(await last.locator('img.im').getAttribute('src')).toBeNull();
    await last.scrollIntoViewIfNeeded();
    await expect.poll(() => last.locator('img.im').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(512);
    await page.close();
  });

  it('sorts worst quality first by default, and by the other keys on request', async () => {
    const page = await chromium.browser.newPage();
    await page.goto(`file://${file}`);
    await page.waitForSelector('html[data-ready="1"]');
    const ids = () => page.$$eval('.card:not([hidden])', (cards) => cards.map((c) => (c as HTMLElement).dataset.id!));
    const all = Array.from({ length: N }, (_, i) => name(i));
    expect(await ids()).toEqual(all);
    await page.selectOption('#sort', 'quality-desc');
    expect(await ids()).toEqual([...all].reverse());
    await page.selectOption('#sort', 'name');
    expect(await ids()).toEqual(all);
    await page.selectOption('#sort', 'dice-asc');
    const dice = await page.$$eval('.card', (cards) => cards.map((c) => Number((c as HTMLElement).dataset.d)));
    expect(dice).toEqual([...dice].sort((a, b) => a - b));
    await page.close();
  });

  it('filters by flag and by class', async () => {
    const page = await chromium.browser.newPage();
    await page.goto(`file://${file}`);
    await page.waitForSelector('html[data-ready="1"]');
    const shown = () => page.$$eval('.card:not([hidden])', (cards) => cards.map((c) => (c as HTMLElement).dataset.id!));
    await page.selectOption('#flag', 'check');
    const checked = Array.from({ length: N }, (_, i) => i).filter((i) => i / N < 0.5);
    expect(await shown()).toEqual(checked.map(name));
    expect(await page.textContent('#count')).toBe(`${checked.length} of ${N} images`);
    // Class "heart" (third option): flagged where the image is, or on every 5th image.
    await page.selectOption('#cls', '2');
    const heart = Array.from({ length: N }, (_, i) => i).filter((i) => i / N < 0.5 || i % 5 === 0);
    expect((await shown()).sort()).toEqual(heart.map(name).sort());
    await page.selectOption('#flag', 'ok');
    expect((await shown()).length).toBe(N - heart.length);
    await page.close();
  });

  it('a click enlarges the picture; next steps through the shown cards', async () => {
    const page = await chromium.browser.newPage();
    await page.goto(`file://${file}`);
    await page.waitForSelector('html[data-ready="1"]');
    await page.locator('.card .pic').first().click();
    await expect.poll(() => page.locator('#dlg').evaluate((d: HTMLDialogElement) => d.open)).toBe(true);
    expect(await page.textContent('#dlgtitle')).toBe(name(0));
    await expect.poll(() => page.locator('#big img.im').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(512);
    expect(await page.locator('#big svg.marks circle').count()).toBe(2);
    expect(await page.locator('#dlgmore table.sig tr').count()).toBe(1 + CLASSES.length);
    await page.click('#next');
    expect(await page.textContent('#dlgtitle')).toBe(name(1));
    await page.click('#close');
    expect(await page.locator('#dlg').evaluate((d: HTMLDialogElement) => d.open)).toBe(false);
    await page.close();
  });
});
