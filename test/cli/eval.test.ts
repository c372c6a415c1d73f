import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { REPORT_HINT } from '../../src/cli/exit.js';
import { generatePhantom } from '../../src/image/phantom.js';
import { writeLabelPng } from '../../src/io/mask.js';
import { writePhantomDataset } from '../../src/io/phantom-dataset.js';
import { captureIo, makeTempDir } from './helpers.js';
import { dice } from './pipeline-fixture.js';

const SEED = 11;
const COUNT = 6;
const SIZE = 64;
const CLASSES = [1, 2, 3];

let tmp: { dir: string; cleanup: () => Promise<void> };
let masks: string;
let classesJson: string;
/** The reference (patient 0) mask copied under every id except MISSING_ID. */
let refPred: string;
/** The reference mask copied under every id. */
let refPredFull: string;
const MISSING_ID = 'phantom_003';


const labels = () => Array.from({ length: COUNT }, (_, patient) => generatePhantom({ seed: SEED, patient, width: SIZE }).label.data);

/** Expected per-class means when every prediction is patient 0's mask, with the given ids missing. */
function expectedReferenceScores(missing: Set<number>) {
  const all = labels();
  const perClass = CLASSES.map((cls) => {
    const perImage = all.map((gt, i) => (missing.has(i) ? dice(new Uint8Array(gt.length), gt, cls) : dice(all[0]!, gt, cls)));
    return perImage.reduce((s, v) => s + v, 0) / COUNT;
  });
  return { perClass, mean: perClass.reduce((s, v) => s + v, 0) / CLASSES.length };
}

beforeAll(async () => {
  tmp = await makeTempDir('cli-eval');
  const ds = await writePhantomDataset(join(tmp.dir, 'ds'), { count: COUNT, width: SIZE, seed: SEED });
  masks = ds.masksDir;
  classesJson = ds.classesPath;
  refPred = join(tmp.dir, 'ref-pred');
  refPredFull = join(tmp.dir, 'ref-pred-full');
  await mkdir(refPred);
  await mkdir(refPredFull);
  for (const item of ds.items) {
    await copyFile(ds.items[0]!.maskPath, join(refPredFull, `${item.id}.png`));
    if (item.id !== MISSING_ID) await copyFile(ds.items[0]!.maskPath, join(refPred, `${item.id}_mask.png`));
  }
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('medpersam eval', () => {
  it('ground truth against itself: Dice 1.0 exactly (JSON on stdout)', async () => {
    const io = captureIo();
    const code = await runCli(['eval', '--pred', masks, '--gt', masks, '--classes', classesJson, '--json'], io);
    expect(code).toBe(0);
    const json = JSON.parse(io.out());
    expect(json.format).toBe('medpersam-eval');
    expect(json.count).toBe(COUNT);
    expect(json.meanDice).toBe(1);
    expect(json.meanIoU).toBe(1);
    expect(json.missing).toEqual([]);
    expect(json.classes.map((c: { name: string; dice: number }) => [c.name, c.dice])).toEqual([
      ['right_lung', 1],
      ['left_lung', 1],
      ['heart', 1],
    ]);
  });

  it('prints a per-image table with the means; notes go to stderr', async () => {
    const io = captureIo();
    expect(await runCli(['eval', '--pred', masks, '--gt', masks, '--classes', classesJson], io)).toBe(0);
    const out = io.out();
    for (let i = 0; i < COUNT; i++) expect(out).toMatch(new RegExp(`^phantom_00${i} +1\\.0000 +1\\.0000 +1\\.0000 +1\\.0000 +1\\.0000$`, 'm'));
    expect(out).toMatch(/^image +right_lung Dice +left_lung Dice +heart Dice +mean Dice +mean IoU$/m);
    expect(out).toMatch(/^mean Dice +1\.0000 +1\.0000 +1\.0000 +1\.0000$/m);
    expect(out).toContain('6 images: mean Dice 100.00%');
    expect(io.err()).toMatch(/^evaluated in [\d.]+ s\n$/);
  });

  it('--quiet prints nothing but the result', async () => {
    const io = captureIo({ tty: true });
    expect(await runCli(['eval', '--quiet', '--pred', masks, '--gt', masks], io)).toBe(0);
    expect(io.err()).toBe('');
    expect(io.out()).toContain('mean Dice');
    const quietAfter = captureIo({ tty: true });
    expect(await runCli(['eval', '--pred', masks, '--gt', masks, '-q'], quietAfter)).toBe(0);
    expect(quietAfter.err()).toBe('');
  });

  it('draws progress bars on a terminal stderr', async () => {
    const io = captureIo({ tty: true });
    expect(await runCli(['eval', '--pred', masks, '--gt', masks], io)).toBe(0);
    expect(io.err()).toContain('eval [');
    expect(io.err()).toContain(`${COUNT}/${COUNT}`);
    expect(io.out()).not.toContain('eval [');
  });

  it('without --classes, scores every class found, named "class k"', async () => {
    const io = captureIo();
    expect(await runCli(['eval', '--pred', refPredFull, '--gt', masks, '--json'], io)).toBe(0);
    const json = JSON.parse(io.out());
    const expected = expectedReferenceScores(new Set());
    expect(json.classes.map((c: { name: string }) => c.name)).toEqual(['class 1', 'class 2', 'class 3']);
    json.classes.forEach((c: { dice: number }, k: number) => expect(c.dice).toBeCloseTo(expected.perClass[k]!, 12));
    expect(json.meanDice).toBeCloseTo(expected.mean, 12);
    expect(expected.mean).toBeLessThan(0.99); // the reference differs from the other patients
  });

  it('a missing prediction is listed and scored as an empty mask: the mean drops by that image\'s share', async () => {
    const full = captureIo();
    expect(await runCli(['eval', '--pred', refPredFull, '--gt', masks, '--classes', classesJson, '--json'], full)).toBe(0);
    const fullJson = JSON.parse(full.out());

    const dir = join(tmp.dir, 'reports-missing');
    const jsonPath = join(dir, 'scores.json');
    const csvPath = join(dir, 'scores.csv');
    const io = captureIo();
    const code = await runCli(
      ['eval', '--pred', refPred, '--gt', masks, '--classes', classesJson, '--json', jsonPath, '--csv', csvPath],
      io,
    );
    expect(code).toBe(0);
    expect(io.out()).toContain(`missing predictions (1, scored as empty masks): ${MISSING_ID}`);
    expect(io.out()).toMatch(new RegExp(`^${MISSING_ID} \\(missing\\) +0\\.0000 +0\\.0000 +0\\.0000 +0\\.0000 +0\\.0000$`, 'm'));
    expect(io.err()).toContain(`wrote ${jsonPath}`);
    expect(io.err()).toContain(`wrote ${csvPath}`);

    const json = JSON.parse(await readFile(jsonPath, 'utf8'));
    const expected = expectedReferenceScores(new Set([3]));
    expect(json.missing).toEqual([MISSING_ID]);
    expect(json.meanDice).toBeCloseTo(expected.mean, 12);
    json.classes.forEach((c: { dice: number }, k: number) => expect(c.dice).toBeCloseTo(expected.perClass[k]!, 12));
    // The drop equals the missing image's own mean Dice (with its prediction) divided by the image count.
    const missingRowFull = fullJson.images.find((r: { id: string }) => r.id === MISSING_ID);
    expect(fullJson.meanDice - json.meanDice).toBeCloseTo(missingRowFull.meanDice / COUNT, 12);
    expect(missingRowFull.meanDice).toBeGreaterThan(0.5);

    const csv = (await readFile(csvPath, 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('id,dice_right_lung,iou_right_lung,dice_left_lung,iou_left_lung,dice_heart,iou_heart,mean_dice,mean_iou,missing');
    expect(csv).toHaveLength(COUNT + 2);
    const missingRow = csv.find((l) => l.startsWith(`${MISSING_ID},`))!.split(',');
    expect(missingRow.slice(1, 7).map(Number)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(missingRow.at(-1)).toBe('1');
    const meanRow = csv.at(-1)!.split(',');
    expect(meanRow[0]).toBe('mean');
    expect(Number(meanRow[7])).toBeCloseTo(expected.mean, 6);
    expect(meanRow.at(-1)).toBe('1');
  });

  it('writes a self-contained HTML report with one overlay per image, and refuses to overwrite without --force', async () => {
    const htmlPath = join(tmp.dir, 'report.html');
    const io = captureIo();
    const args = ['eval', '--pred', refPred, '--gt', masks, '--html', htmlPath, '--images', join(tmp.dir, 'ds', 'images')];
    expect(await runCli(args, io)).toBe(0);
    const html = await readFile(htmlPath, 'utf8');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html.match(/src="data:image\/png;base64,/g)).toHaveLength(COUNT);
    expect(html).toContain(MISSING_ID);

    const again = captureIo();
    expect(await runCli(args, again)).toBe(1);
    expect(again.err()).toBe(`error: ${htmlPath}: report file already exists; choose another name or allow overwriting (--force)\n`);
    expect(await readFile(htmlPath, 'utf8')).toBe(html);
    expect(await runCli([...args, '--force'], captureIo())).toBe(0);
  });

  it('an output folder that cannot be written: exit 1 naming the file, nothing half-written', async () => {
    const blocker = join(tmp.dir, 'a-file');
    await writeFile(blocker, 'not a folder');
    const target = join(blocker, 'sub', 'scores.csv');
    const io = captureIo();
    expect(await runCli(['eval', '--pred', masks, '--gt', masks, '--csv', target], io)).toBe(1);
    expect(io.err()).toMatch(new RegExp(`^error: ${target}: cannot write output`));
    expect(io.out()).toBe('');
    expect(await readFile(blocker, 'utf8')).toBe('not a folder');
  });

  it('images of different sizes in one set are scored, each at its own size', async () => {
    const ds = await writePhantomDataset(join(tmp.dir, 'mixed'), {
      count: 3,
      seed: SEED,
      sizes: [
        { width: 40, height: 40 },
        { width: 56, height: 48 },
      ],
    });
    const io = captureIo();
    expect(await runCli(['eval', '--pred', ds.masksDir, '--gt', ds.masksDir, '--json'], io)).toBe(0);
    const json = JSON.parse(io.out());
    expect(json.meanDice).toBe(1);
    const heartPixels = json.images.map((r: { perClass: { gtPixels: number }[] }) => r.perClass[2]!.gtPixels);
    const expected = ds.items.map(
      (item, patient) =>
        generatePhantom({ seed: SEED, patient, width: item.width, height: item.height }).label.data.filter((v) => v === 3).length,
    );
    expect(heartPixels).toEqual(expected);
  });

  it('a bad --gt folder: exit 1 and the folder is named', async () => {
    const missingDir = join(tmp.dir, 'no-such-folder');
    const io = captureIo();
    expect(await runCli(['eval', '--pred', masks, '--gt', missingDir], io)).toBe(1);
    expect(io.err()).toBe(`error: ${missingDir}: ground-truth folder not found\n`);
    expect(io.out()).toBe('');
    const empty = join(tmp.dir, 'empty-gt');
    await mkdir(empty);
    const io2 = captureIo();
    expect(await runCli(['eval', '--pred', masks, '--gt', empty], io2)).toBe(1);
    expect(io2.err()).toContain(`error: ${empty}: no ground-truth masks found`);
  });

  it('a prediction of another size than its ground truth: exit 1 naming both files', async () => {
    const pred = join(tmp.dir, 'wrong-size');
    await mkdir(pred);
    const small = generatePhantom({ seed: SEED, patient: 2, width: 32 }).label;
    await writeLabelPng(join(pred, 'phantom_002.png'), small);
    const io = captureIo();
    expect(await runCli(['eval', '--pred', pred, '--gt', masks], io)).toBe(1);
    expect(io.err()).toBe(
      `error: ${join(pred, 'phantom_002.png')}: prediction is 32x32 but its ground truth ${join(masks, 'phantom_002.png')} is 64x64\n`,
    );
  });

  it('a mask value not in classes.json: exit 1 naming the file', async () => {
    const pred = join(tmp.dir, 'bad-values');
    await mkdir(pred);
    const label = generatePhantom({ seed: SEED, patient: 1, width: SIZE }).label;
    label.data[0] = 7;
    await writeLabelPng(join(pred, 'phantom_001.png'), label);
    const io = captureIo();
    expect(await runCli(['eval', '--pred', pred, '--gt', masks, '--classes', classesJson], io)).toBe(1);
    expect(io.err()).toMatch(new RegExp(`^error: ${join(pred, 'phantom_001.png')}: .*7`));
  });

  it('an internal error: exit 2 with a hint to report it, the stack only with --debug', async () => {
    const failing = async () => {
      throw new TypeError('injected failure');
    };
    const io = captureIo();
    expect(await runCli(['eval', '--pred', masks, '--gt', masks], io, { evaluateFolders: failing })).toBe(2);
    expect(io.err()).toBe(`internal error: injected failure\n${REPORT_HINT}\n`);
    const debug = captureIo();
    expect(await runCli(['eval', '--pred', masks, '--gt', masks, '--debug'], debug, { evaluateFolders: failing })).toBe(2);
    expect(debug.err()).toContain('TypeError: injected failure\n    at ');
  });

  it('usage errors exit 1 with commander\'s message', async () => {
    const io = captureIo();
    expect(await runCli(['eval', '--pred', masks], io)).toBe(1);
    expect(io.err()).toContain("required option '--gt <dir>' not specified");
    const unknown = captureIo();
    expect(await runCli(['frobnicate'], unknown)).toBe(1);
    expect(unknown.err()).toContain("unknown command 'frobnicate'");
  });
});

describe('other commands', () => {
  it('--help and --version exit 0 and print to stdout', async () => {
    const help = captureIo();
    expect(await runCli(['--help'], help)).toBe(0);
    for (const name of ['segment', 'eval', 'bench', 'models', 'demo']) expect(help.out()).toContain(name);
    const version = captureIo();
    expect(await runCli(['--version'], version)).toBe(0);
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(version.out().trim()).toBe(pkg.version);
  });

  it('demo writes a phantom dataset, refuses to write over it, and --force allows it', async () => {
    const out = join(tmp.dir, 'demo');
    const io = captureIo();
    expect(await runCli(['demo', '--out', out, '--count', '3', '--size', '48', '--seed', '5', '--no-run'], io)).toBe(0);
    expect(io.out()).toContain(`wrote 3 phantom images (48x48, seed 5) to ${out}`);
    expect(io.out()).toContain(`medpersam eval --pred ${join(out, 'masks')} --gt ${join(out, 'masks')}`);
    const expected = generatePhantom({ seed: 5, patient: 2, width: 48 }).label;
    const evalIo = captureIo();
    expect(await runCli(['eval', '--pred', join(out, 'masks'), '--gt', join(out, 'masks'), '--json'], evalIo)).toBe(0);
    const row = JSON.parse(evalIo.out()).images[2];
    expect(row.perClass.map((c: { gtPixels: number }) => c.gtPixels)).toEqual(
      CLASSES.map((cls) => expected.data.filter((v) => v === cls).length),
    );

    const again = captureIo();
    expect(await runCli(['demo', '--out', out, '--count', '3'], again)).toBe(1);
    expect(again.err()).toContain(`error: ${join(out, 'images')}: folder already holds files`);
    expect(await runCli(['demo', '--out', out, '--count', '3', '--force', '--quiet', '--no-run'], captureIo())).toBe(0);

    const bad = captureIo();
    expect(await runCli(['demo', '--out', join(tmp.dir, 'demo2'), '--count', 'many'], bad)).toBe(1);
    expect(bad.err()).toBe('error: --count must be an integer from 1 to 10000, got "many"\n');
  });
});

describe('bin/medpersam.js', () => {
  it('runs from the checkout (built or through tsx) with the right exit codes', async () => {
    const { spawnSync } = await import('node:child_process');
    const bin = new URL('../../bin/medpersam.js', import.meta.url).pathname;
    const ok = spawnSync(process.execPath, [bin, 'eval', '--pred', masks, '--gt', masks, '--quiet'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('mean Dice 100.00%');
    expect(ok.stderr).toBe('');
    const bad = spawnSync(process.execPath, [bin, 'eval', '--pred', masks, '--gt', join(tmp.dir, 'nope')], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`error: ${join(tmp.dir, 'nope')}: ground-truth folder not found`);
  });
});
