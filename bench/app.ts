/**
 * The browser app measured in headless Chromium against Node on the same inputs (run under the heavy lock):
 *   1. warp training, warp only, on the reference + the first N test images of a dataset (default JSRT, N = 40),
 *      default settings (cpu preset): time per optimiser step in Node (tfjs wasm) and in the tab (the engine the
 *      app picks), from each run's record (training seconds / steps);
 *   2. SAM calls with the given ONNX pair (default the real-architecture MobileSAM of ../shared): encoder and decoder
 *      milliseconds per call inside ONNX Runtime, onnxruntime-node vs onnxruntime-web, on a few images;
 *   3. peak memory of the tab (resident set of the tab's renderer process, sampled every 100 ms) in each browser run.
 *
 *   npx tsx bench/app.ts [--dataset DIR] [--limit 40] [--epochs N] [--sam DIR[,DIR...]] [--sam-images 3] [--sam-only]
 *       [--out bench/results]
 * `--sam-only` skips part 1; with several SAM folders part 2 runs for each (a fresh browser profile each), tab then
 * Node, back to back in this one process, e.g. `--sam <MobileSAM dir>,<SAM 2.1 Hiera-Tiny dir>` to compare models in
 * the same run; the load average is recorded before and after each measurement.
 * Writes OUT/app-bench.json and prints a table. Uses the app's own UI (file inputs, buttons), like a person would.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { unzipSync } from 'fflate';
import type { Page } from 'playwright-core';
import { runMedPerSam } from '../src/pipeline/medpersam.js';
import { runWarpOnlySegmentation } from '../src/pipeline/warp-segment.js';
import { buildApp } from '../src/server/app-build.js';
import { startAppServer } from '../src/server/app-server.js';
import { launchChromium } from '../test/fixtures/chromium.js';
import { sharedPath } from '../test/fixtures/shared-data.js';
import { benchArgs } from './args.js';

const args = benchArgs();
const dataset = resolve(args.value('dataset') ?? sharedPath('data/jsrt-scr'));
const limit = args.num('limit') ?? 40;
const epochs = args.num('epochs');
// One or more model folders, comma-separated (e.g. MobileSAM and SAM 2.1 Hiera-Tiny measured in the same run).
const samDirs = (args.value('sam') ?? sharedPath('models/real-arch-mobile-sam')).split(',').map((d) => resolve(d));
const samOnly = args.flag('sam-only');
const samImages = args.num('sam-images') ?? 3;
const outDir = resolve(args.value('out') ?? 'bench/results');

/** The 1-, 5- and 15-minute load averages, for the record beside every timing (the machine is shared). */
const loadNow = () => loadavg().map((x) => +x.toFixed(2));

/** Resident memory (bytes) of the renderer processes below this process (the tab; its workers live in it). */
function rendererRss(): number {
  const children = new Map<number, number[]>();
  const cmd = new Map<number, string>();
  const rss = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const pid = Number(name);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
      cmd.set(pid, readFileSync(`/proc/${name}/cmdline`, 'utf8'));
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${name}/status`, 'utf8'));
      rss.set(pid, m ? Number(m[1]) * 1024 : 0);
    } catch {
      // process ended while reading
    }
  }
  let total = 0;
  const stack = [process.pid];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    for (const c of children.get(pid) ?? []) {
      if ((cmd.get(c) ?? '').includes('--type=renderer')) total += rss.get(c) ?? 0;
      stack.push(c);
    }
  }
  return total;
}

function sampleMemory(): { stop: () => number } {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, rendererRss())), 100);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, rendererRss());
    },
  };
}

async function waitForEnd(page: Page): Promise<void> {
  await page.waitForFunction(() => ['done', 'error', 'stopped'].includes(document.getElementById('status')!.dataset['state']!), null, { timeout: 3_600_000, polling: 500 });
  const state = await page.getAttribute('#status', 'data-state');
  if (state !== 'done') throw new Error(`app run ended ${state}: ${await page.textContent('#status')}`);
}

async function recordOf(page: Page): Promise<Record<string, any>> {
  await page.waitForFunction(() => !(document.getElementById('download') as HTMLButtonElement).disabled);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const files = unzipSync(new Uint8Array(await readFile((await download.path())!)));
  return JSON.parse(new TextDecoder().decode(files['run-record.json']!)) as Record<string, any>;
}

async function main(): Promise<void> {
  await mkdir(outDir, { recursive: true });
  const work = await mkdtemp(join(tmpdir(), 'medpersam-app-bench-'));
  try {
    // Inputs: the reference (first image alphabetically, as the paper) + the first `limit` other images.
    const names = (await readdir(join(dataset, 'images'))).filter((n) => n.endsWith('.png')).sort();
    const [ref, ...rest] = names;
    const tests = rest.slice(0, limit);
    const images = join(work, 'images');
    await mkdir(images);
    for (const n of [ref!, ...tests]) await symlink(join(dataset, 'images', n), join(images, n));
    const refImage = join(dataset, 'images', ref!);
    const refMask = join(dataset, 'masks', ref!);
    const overrides = epochs !== undefined ? { schedule: { initialEpochs: epochs } } : undefined;

    const appDir = join(work, 'app');
    await buildApp(appDir);
    const server = await startAppServer({ root: appDir, port: 0 });
    const chromium = await launchChromium();
    const context = await chromium.browser.newContext({ acceptDownloads: true });
    const result: Record<string, unknown> = { dataset, reference: ref, tests: tests.length, loadAtStart: loadNow() };

    if (!samOnly) await measureWarp();
    for (const samDir of samDirs) await measureSam(samDir);
    result['loadAtEnd'] = loadNow();
    await chromium.close();
    await server.close();
    printSamTable(result);
    const file = join(outDir, 'app-bench.json');
    await writeFile(file, JSON.stringify(result, null, 2));
    console.log(`wrote ${file}`);

    async function measureWarp(): Promise<void> {
      // ---- 1. warp training: Node
      let steps = 0;
      const node = await runWarpOnlySegmentation(
        { refImagePath: refImage, refMaskPath: refMask, imagesDir: images, outDir: join(work, 'node-warp'), overrides, backend: 'wasm', overlays: false },
        (e) => {
          if (e.stage === 'warp-train') steps = Math.max(steps, e.total);
        },
      );
      const nodeStepMs = (node.timings.trainS * 1000) / steps;
      result['warpNode'] = { backend: node.backend, steps, trainS: node.timings.trainS, msPerStep: nodeStepMs, totalS: node.timings.totalS };
      console.log(`Node warp: ${steps} steps, ${node.timings.trainS.toFixed(1)} s training → ${nodeStepMs.toFixed(0)} ms/step (${node.backend})`);

      // ---- 1. warp training: browser
      {
        const page = await context.newPage();
        await page.goto(server.url);
        await page.setInputFiles('#ref-image', refImage);
        await page.setInputFiles('#ref-mask', refMask);
        await page.setInputFiles('#images', [ref!, ...tests].map((n) => join(images, n)));
        if (epochs !== undefined) {
          await page.click('details > summary');
          await page.fill('#epochs', String(epochs));
        }
        const mem = sampleMemory();
        await page.click('#run');
        await waitForEnd(page);
        const peak = mem.stop();
        const record = await recordOf(page);
        const trainS = record['timings'].trainS as number;
        const engines = await page.textContent('#engines');
        result['warpBrowser'] = { engines, steps, trainS, msPerStep: (trainS * 1000) / steps, totalS: record['timings'].totalS, peakTabRssMB: peak / 2 ** 20 };
        console.log(`browser warp: ${trainS.toFixed(1)} s training → ${((trainS * 1000) / steps).toFixed(0)} ms/step; ${engines}; peak tab RSS ${(peak / 2 ** 20).toFixed(0)} MB`);
        await page.waitForFunction(() => !document.getElementById('start-over')!.hidden);
        await page.click('#start-over');
        await page.close();
      }

    }

    async function measureSam(samDir: string): Promise<void> {
      // ---- 2. SAM calls: browser then Node, on the first `samImages` tests (warp: 1 epoch; no retraining/refinement)
      const samTests = tests.slice(0, samImages);
      const key = samDirs.length > 1 ? `:${basename(samDir)}` : '';
      {
        const samContext = await chromium.browser.newContext({ acceptDownloads: true });
        const page = await samContext.newPage();
        page.on('dialog', (d) => void d.accept());
        await page.goto(server.url);
        await page.setInputFiles('#ref-image', refImage);
        await page.setInputFiles('#ref-mask', refMask);
        await page.setInputFiles('#images', samTests.map((n) => join(images, n)));
        await page.check('input[name=mode][value=sam]');
        await page.setInputFiles('#sam-encoder', join(samDir, 'encoder.onnx'));
        await page.setInputFiles('#sam-decoder', join(samDir, 'decoder.onnx'));
        await page.waitForFunction(() => /kB|MB/.test(document.getElementById('sam-info')!.textContent ?? ''), null, { timeout: 120_000 });
        await page.click('details > summary');
        await page.fill('#epochs', '1');
        await page.fill('#rounds', '0');
        await page.fill('#refinements', '0');
        const loadBefore = loadNow();
        const mem = sampleMemory();
        await page.click('#run');
        await waitForEnd(page);
        const peak = mem.stop();
        const rec = await recordOf(page);
        const c = rec['counters'];
        const loadAfter = loadNow();
        result[`samBrowser${key}`] = {
          engines: await page.textContent('#engines'),
          encoderRuns: c.encoderRuns,
          encoderMsPerCall: c.encoderRunMs / c.encoderRuns,
          decoderCalls: c.decoderCalls,
          decoderMsPerCall: c.decoderRunMs / c.decoderCalls,
          peakTabRssMB: peak / 2 ** 20,
          samWarnings: rec['sam'].warnings,
          loadBefore,
          loadAfter,
        };
        console.log(`browser SAM ${basename(samDir)}: encoder ${(c.encoderRunMs / c.encoderRuns).toFixed(0)} ms/call (${c.encoderRuns}), decoder ${(c.decoderRunMs / c.decoderCalls).toFixed(0)} ms/call (${c.decoderCalls}); peak tab RSS ${(peak / 2 ** 20).toFixed(0)} MB`);
        await page.close();
        await samContext.close();
      }
      {
        const loadBefore = loadNow();
        const run = await runMedPerSam({
          referenceImage: refImage,
          referenceMask: refMask,
          images: samTests.map((n) => ({ id: n.replace(/\.png$/, ''), imagePath: join(images, n) })),
          outDir: join(work, `node-sam-${basename(samDir)}`), // one run folder per model (a run folder refuses other settings)
          sam: samDir,
          samLoad: { cacheDir: false },
          warp: { overrides: { schedule: { initialEpochs: 1 } }, backend: 'wasm' },
          retrainRounds: 0,
          refinements: 0,
          overlays: false,
        });
        const c = run.record.counters;
        result[`samNode${key}`] = {
          encoderRuns: c.encoderRuns,
          encoderMsPerCall: c.encoderRunMs / c.encoderRuns,
          decoderCalls: c.decoderCalls,
          decoderMsPerCall: c.decoderRunMs / c.decoderCalls,
          samWarnings: run.record.sam.warnings,
          loadBefore,
          loadAfter: loadNow(),
        };
        console.log(`Node SAM ${basename(samDir)}: encoder ${(c.encoderRunMs / c.encoderRuns).toFixed(0)} ms/call, decoder ${(c.decoderRunMs / c.decoderCalls).toFixed(0)} ms/call`);
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();

/** Per SAM folder: encoder and decoder milliseconds per call in the tab and in Node, with the load around each. */
function printSamTable(result: Record<string, any>): void {
  const rows = samDirs.map((dir) => {
    const key = samDirs.length > 1 ? `:${basename(dir)}` : '';
    const tab = result[`samBrowser${key}`];
    const node = result[`samNode${key}`];
    const ms = (x: number) => x.toFixed(0);
    const load = (m: { loadBefore: number[]; loadAfter: number[] }) => `${m.loadBefore[0]}→${m.loadAfter[0]}`;
    return `| ${basename(dir)} | ${ms(tab.encoderMsPerCall)} / ${ms(node.encoderMsPerCall)} | ${ms(tab.decoderMsPerCall)} / ${ms(node.decoderMsPerCall)} | ${tab.peakTabRssMB.toFixed(0)} | ${load(tab)} / ${load(node)} |`;
  });
  console.log(`load average at start ${result['loadAtStart'].join(' ')}, at end ${result['loadAtEnd'].join(' ')}`);
  console.log('| model | encoder ms/call, tab / Node | decoder ms/call, tab / Node | peak tab RSS MB | load 1 min, tab / Node |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) console.log(row);
}
