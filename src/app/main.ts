/**
 * The app's page: pick or drop the reference image and its mask (or draw the mask), the images and a model, run,
 * watch the progress, look at the overlays, download the masks. The work itself runs in worker.ts (the same core
 * loop as the CLI); this file only handles the page. Nothing here talks to a server: files are read locally,
 * model URLs are fetched only when the user asks for them.
 */
import { MedpersamUserError } from '../errors.js';
import { classesPresent } from '../image/labels.js';
import type { ClassNames, FloatImage, LabelMap } from '../image/types.js';
import { fileStem, imageExtension, SUPPORTED_IMAGE_EXTENSIONS } from '../io/formats.js';
import { labelMapFromImage, parseClassNames } from '../io/label-map.js';
import { classColor, renderOverlayPixels } from '../io/overlay-render.js';
import { decodeImage } from '../io/raster-browser.js';
import type { ProgressEvent } from '../progress.js';
import type { WarpSettingsOverrides } from '../warp/presets.js';
import type { PhaseBudgetFields } from '../warp/schedule.js';
import { clearRun, finishedIds, type StoredPngEntry } from './browser-stores.js';
import { Idb } from './idb.js';
import type { DoneSummary, DrawnMask, FromWorker, RunConfig, RunInputs } from './protocol.js';
import type { ModelFile } from './sam-web.js';
import { currentTabImageBudget, readFileWithinBudget } from './tab-memory.js';
import { buildRunZip } from './zip.js';

const RUN = 'current';
/** This tab's budget for one image (tab-memory.ts): larger files are refused before they are read or decoded. */
const budget = currentTabImageBudget();
/** A picked file's bytes, decoded within the tab's budget. */
const decodeFile = async (file: File) => decodeImage(await readFileWithinBudget(file, budget), file.name, { pixelLimit: budget.pixelLimit });
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);

// ---------------------------------------------------------------------------------------------------- state

interface PageState {
  refFile: File | null;
  refImage: FloatImage | null;
  maskFile: File | null;
  /** The reference label map (decoded from the mask file, or drawn). */
  mask: LabelMap | null;
  drawn: boolean;
  classes: Map<number, string>;
  images: File[];
  sam: { encoder: ModelFile; decoder: ModelFile } | null;
  running: boolean;
}

const state: PageState = { refFile: null, refImage: null, maskFile: null, mask: null, drawn: false, classes: new Map(), images: [], sam: null, running: false };
let worker: Worker | null = null;
let dbPromise: Promise<Idb> | null = null;
const db = () => (dbPromise ??= Idb.open());

type StatusKind = 'idle' | 'running' | 'done' | 'error' | 'stopped';

function setStatus(text: string, kind: StatusKind = 'idle'): void {
  const el = $('status');
  el.textContent = text;
  el.dataset['state'] = kind;
}

function describeError(err: unknown): string {
  if (err instanceof MedpersamUserError) return `${err.file ? `${err.file}: ` : ''}${err.message}`;
  return (err as Error)?.message ?? String(err);
}

const isImageName = (name: string) => SUPPORTED_IMAGE_EXTENSIONS.includes(imageExtension(name));
const compareNames = (a: File, b: File) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

// ---------------------------------------------------------------------------------------------------- reference

async function loadReferenceImage(file: File): Promise<void> {
  try {
    const read = await decodeFile(file);
    state.refFile = file;
    state.refImage = read.image;
    $('ref-info').textContent = `${file.name}: ${read.image.width}×${read.image.height}, ${read.image.channels === 1 ? 'grey' : 'colour'}, ${read.bitDepth}-bit ${read.format.toUpperCase()}`;
    ($('draw-mask') as HTMLButtonElement).disabled = false;
    if (state.mask && (state.mask.width !== read.image.width || state.mask.height !== read.image.height)) {
      $('ref-info').textContent += ` — the mask is ${state.mask.width}×${state.mask.height}: pick the mask of this image`;
    }
  } catch (err) {
    state.refFile = null;
    state.refImage = null;
    $('ref-info').textContent = describeError(err);
  }
  renderPreview();
  updateRunButton();
}

async function loadMaskFile(file: File): Promise<void> {
  try {
    const { image } = await decodeFile(file);
    const mask = labelMapFromImage(image, file.name);
    const present = classesPresent(mask);
    if (present.length === 0) throw new MedpersamUserError('EMPTY_REFERENCE_MASK', 'the mask has no foreground pixels', { file: file.name });
    state.maskFile = file;
    state.mask = mask;
    state.drawn = false;
    const names = new Map<number, string>([[0, 'background']]);
    for (const c of present) names.set(c, state.classes.get(c) ?? `class ${c}`);
    state.classes = names;
    renderClasses(false);
  } catch (err) {
    state.maskFile = null;
    state.mask = null;
    $('ref-info').textContent = describeError(err);
  }
  renderPreview();
  updateRunButton();
}

async function loadClassesJson(file: File): Promise<void> {
  try {
    const names = parseClassNames(JSON.parse(await file.text()) as unknown, file.name);
    for (const [k, v] of names) if (state.classes.has(k) || !state.mask) state.classes.set(k, v);
    renderClasses(state.drawn);
  } catch (err) {
    $('ref-info').textContent = describeError(err);
  }
}

function renderPreview(): void {
  const canvas = $<HTMLCanvasElement>('ref-preview');
  if (!state.refImage) {
    canvas.hidden = true;
    return;
  }
  const label = state.mask && state.mask.width === state.refImage.width && state.mask.height === state.refImage.height
    ? state.mask
    : { width: state.refImage.width, height: state.refImage.height, data: new Uint8Array(state.refImage.width * state.refImage.height) };
  drawRgb(canvas, renderOverlayPixels(state.refImage, label, { maxSize: 360 }));
  canvas.hidden = false;
}

function drawRgb(canvas: HTMLCanvasElement, px: { width: number; height: number; rgb: Uint8Array }): void {
  canvas.width = px.width;
  canvas.height = px.height;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(px.width, px.height);
  for (let i = 0; i < px.width * px.height; i++) {
    img.data[i * 4] = px.rgb[i * 3]!;
    img.data[i * 4 + 1] = px.rgb[i * 3 + 1]!;
    img.data[i * 4 + 2] = px.rgb[i * 3 + 2]!;
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// ---------------------------------------------------------------------------------------------------- classes

let activeClass = 1;

function renderClasses(editable: boolean): void {
  const box = $('classes');
  box.replaceChildren();
  for (const [cls, name] of state.classes) {
    if (cls === 0) continue;
    const chip = document.createElement('span');
    chip.className = `class-chip${editable && cls === activeClass ? ' active' : ''}`;
    const sw = document.createElement('span');
    sw.className = 'swatch';
    const [r, g, b] = classColor(cls);
    sw.style.background = `rgb(${r},${g},${b})`;
    const label = document.createElement('span');
    label.textContent = String(cls);
    const nameInput = document.createElement('input');
    nameInput.value = name;
    nameInput.setAttribute('aria-label', `name of class ${cls}`);
    nameInput.addEventListener('input', () => state.classes.set(cls, nameInput.value.trim() || `class ${cls}`));
    chip.append(sw, label, nameInput);
    if (editable) {
      chip.addEventListener('click', (e) => {
        if (e.target === nameInput) return;
        activeClass = cls;
        renderClasses(true);
      });
    }
    box.append(chip);
  }
  $('add-class').hidden = !editable;
}

// ---------------------------------------------------------------------------------------------------- mask editor

let editorLabel: LabelMap | null = null;

function openEditor(): void {
  if (!state.refImage) return;
  const { width, height } = state.refImage;
  editorLabel = state.mask && state.mask.width === width && state.mask.height === height
    ? { width, height, data: state.mask.data.slice() }
    : { width, height, data: new Uint8Array(width * height) };
  if (![...state.classes.keys()].some((k) => k > 0)) state.classes = new Map([[0, 'background'], [1, 'class 1']]);
  activeClass = [...state.classes.keys()].find((k) => k > 0) ?? 1;
  $('editor').hidden = false;
  renderClasses(true);
  renderEditor();
}

function renderEditor(): void {
  if (!state.refImage || !editorLabel) return;
  drawRgb($<HTMLCanvasElement>('editor-canvas'), renderOverlayPixels(state.refImage, editorLabel, { alpha: 0.5 }));
}

function paintAt(canvas: HTMLCanvasElement, e: PointerEvent): void {
  if (!editorLabel) return;
  const rect = canvas.getBoundingClientRect();
  const x = ((e.clientX - rect.left) / rect.width) * editorLabel.width;
  const y = ((e.clientY - rect.top) / rect.height) * editorLabel.height;
  const radius = Number(input('brush-size').value) * (editorLabel.width / Math.max(1, rect.width));
  const erase = (document.querySelector('input[name=tool]:checked') as HTMLInputElement).value === 'eraser';
  const r2 = radius * radius;
  for (let yy = Math.max(0, Math.floor(y - radius)); yy <= Math.min(editorLabel.height - 1, Math.ceil(y + radius)); yy++) {
    for (let xx = Math.max(0, Math.floor(x - radius)); xx <= Math.min(editorLabel.width - 1, Math.ceil(x + radius)); xx++) {
      const dx = xx + 0.5 - x;
      const dy = yy + 0.5 - y;
      if (dx * dx + dy * dy > r2) continue;
      const i = yy * editorLabel.width + xx;
      if (erase) {
        if (editorLabel.data[i] === activeClass) editorLabel.data[i] = 0;
      } else editorLabel.data[i] = activeClass;
    }
  }
  renderEditor();
}

function useDrawnMask(): void {
  if (!editorLabel) return;
  if (classesPresent(editorLabel).length === 0) {
    $('ref-info').textContent = 'the drawn mask is empty: paint at least one class';
    return;
  }
  state.mask = { ...editorLabel, data: editorLabel.data.slice() };
  state.maskFile = null;
  state.drawn = true;
  $('editor').hidden = true;
  renderClasses(false);
  renderPreview();
  updateRunButton();
}

// ---------------------------------------------------------------------------------------------------- images

async function filesFromDrop(items: DataTransferItemList): Promise<File[]> {
  const out: File[] = [];
  const walk = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile) {
      out.push(await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject)));
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
        if (batch.length === 0) break;
        for (const e of batch) await walk(e);
      }
    }
  };
  const entries = [...items].map((i) => i.webkitGetAsEntry()).filter((e): e is FileSystemEntry => e !== null);
  for (const e of entries) await walk(e);
  return out;
}

function setImages(files: File[]): void {
  const images = files.filter((f) => isImageName(f.name) && !f.name.startsWith('.')).sort(compareNames);
  const skipped = files.length - images.length;
  state.images = images;
  const ids = new Map<string, number>();
  for (const f of images) ids.set(fileStem(f.name), (ids.get(fileStem(f.name)) ?? 0) + 1);
  const dup = [...ids].filter(([, n]) => n > 1).map(([id]) => id);
  $('images-info').textContent =
    `${images.length} image${images.length === 1 ? '' : 's'}` +
    (skipped > 0 ? ` (${skipped} other file${skipped === 1 ? '' : 's'} ignored)` : '') +
    (dup.length > 0 ? ` — names used twice: ${dup.slice(0, 5).join(', ')}; their masks would collide` : '');
  updateRunButton();
}

// ---------------------------------------------------------------------------------------------------- model

async function rememberModel(encoder: ModelFile, decoder: ModelFile, source: string): Promise<void> {
  state.sam = { encoder, decoder };
  $('sam-info').textContent = `${encoder.name} (${formatBytes(encoder.bytes.length)}) + ${decoder.name} (${formatBytes(decoder.bytes.length)}), ${source}`;
  $('sam-forget').hidden = false;
  try {
    await (await db()).put('models', 'sam', { encoder, decoder, source });
  } catch (err) {
    $('sam-info').textContent += ` — not remembered (${describeError(err)})`;
  }
  updateRunButton();
}

function formatBytes(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1e3))} kB`;
}

async function modelFromInput(el: HTMLInputElement): Promise<ModelFile | null> {
  const f = el.files?.[0];
  return f ? { name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) } : null;
}

async function pickedModelFiles(): Promise<void> {
  const encoder = await modelFromInput(input('sam-encoder'));
  const decoder = await modelFromInput(input('sam-decoder'));
  if (encoder && decoder) await rememberModel(encoder, decoder, 'from your disk (kept in this browser)');
  else $('sam-info').textContent = 'pick both the encoder and the decoder file';
}

async function fetchModel(url: string): Promise<ModelFile> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return { name: decodeURIComponent(new URL(url, location.href).pathname.split('/').pop() || 'model.onnx'), bytes: new Uint8Array(await res.arrayBuffer()) };
}

// ---------------------------------------------------------------------------------------------------- progress

interface StageRow {
  row: HTMLTableRowElement;
  start: number;
  firstDone: number;
  firstAt: number;
  lastDone: number;
  lastTotal: number;
}
const stages = new Map<string, StageRow>();

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '';
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

function onProgress(e: ProgressEvent): void {
  if (e.stage === 'engine') {
    $('engines').textContent += ` · ${e.message}`;
    return;
  }
  let s = stages.get(e.stage);
  const now = performance.now();
  if (!s) {
    const row = document.createElement('tr');
    row.dataset['stage'] = e.stage;
    row.innerHTML = '<td class="name"></td><td><div class="bar"><div></div></div></td><td class="count"></td><td class="eta"></td><td class="msg"></td>';
    row.querySelector('.name')!.textContent = e.stage;
    $('progress').append(row);
    s = { row, start: now, firstDone: e.done, firstAt: now, lastDone: e.done, lastTotal: e.total };
    stages.set(e.stage, s);
  }
  if (e.done < s.lastDone || e.total !== s.lastTotal) {
    // A new pass of the stage (e.g. the next round's training): its clock starts again.
    s.start = now;
    s.firstAt = now;
    s.firstDone = e.done;
  }
  s.lastDone = e.done;
  s.lastTotal = e.total;
  const frac = e.total > 0 ? Math.min(1, e.done / e.total) : 0;
  (s.row.querySelector('.bar > div') as HTMLElement).style.width = `${(frac * 100).toFixed(1)}%`;
  s.row.querySelector('.count')!.textContent = e.total > 0 ? `${e.done}/${e.total}` : `${e.done}`;
  // ETA from this stage's own pace since its first event (units already done before a resume do not count).
  const doneHere = e.done - s.firstDone;
  const eta = doneHere > 0 && e.total > e.done ? ((now - s.firstAt) / doneHere) * (e.total - e.done) / 1000 : NaN;
  s.row.querySelector('.eta')!.textContent = e.done >= e.total && e.total > 0 ? `done in ${formatSeconds((now - s.start) / 1000)}` : Number.isFinite(eta) ? `ETA ${formatSeconds(eta)}` : '';
  s.row.querySelector('.msg')!.textContent = e.message ?? '';
}

// ---------------------------------------------------------------------------------------------------- gallery

const thumbs = new Map<string, { el: HTMLElement; url: string }>();

function addThumb(id: string, entry: StoredPngEntry): void {
  const url = URL.createObjectURL(new Blob([entry.png as BlobPart], { type: 'image/png' }));
  const old = thumbs.get(id);
  if (old) URL.revokeObjectURL(old.url);
  const el = old?.el ?? document.createElement('figure');
  el.className = 'thumb';
  el.dataset['id'] = id;
  el.replaceChildren();
  const img = document.createElement('img');
  img.src = url;
  img.alt = `overlay of ${id}`;
  const cap = document.createElement('figcaption');
  cap.className = 'caption';
  cap.textContent = id;
  const quality = document.createElement('div');
  quality.className = 'quality';
  el.append(img, cap, quality);
  el.onclick = () => {
    $<HTMLImageElement>('lightbox-image').src = url;
    $('lightbox-caption').textContent = `${id} (${entry.width}×${entry.height})`;
    $<HTMLDialogElement>('lightbox').showModal();
  };
  if (!old) {
    const gallery = $('gallery');
    const after = [...gallery.children].find((c) => ((c as HTMLElement).dataset['id'] ?? '') > id);
    gallery.insertBefore(el, after ?? null);
  }
  thumbs.set(id, { el, url });
  $('results-count').textContent = `(${thumbs.size})`;
}

async function loadStoredGallery(): Promise<number> {
  const d = await db();
  const ids = await finishedIds(d, RUN);
  for (const id of ids) {
    const e = await d.get<StoredPngEntry>('runs', `${RUN}/overlay/${id}`);
    if (e) addThumb(id, e);
  }
  return ids.length;
}

function clearGallery(): void {
  for (const t of thumbs.values()) URL.revokeObjectURL(t.url);
  thumbs.clear();
  $('gallery').replaceChildren();
  $('results-count').textContent = '';
}

// ---------------------------------------------------------------------------------------------------- run

function optionalInt(id: string): number | undefined {
  const v = input(id).value.trim();
  if (v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new MedpersamUserError('BAD_OPTION', `${id}: "${v}" is not a whole number`);
  return n;
}

function mode(): 'warp-only' | 'sam' {
  return (document.querySelector('input[name=mode]:checked') as HTMLInputElement).value as 'warp-only' | 'sam';
}

/** A phase's budget from its two fields: steps or epochs (each overrides the preset's unit), not both. */
function phaseBudgetInput(phase: 'initial' | 'retrain', stepsId: string, epochsId: string): PhaseBudgetFields {
  const steps = optionalInt(stepsId);
  const epochs = optionalInt(epochsId);
  if (steps !== undefined && epochs !== undefined) {
    throw new MedpersamUserError('BAD_OPTION', `${stepsId} and ${epochsId}: give the budget in steps or in epochs, not both`);
  }
  if (steps !== undefined) return phase === 'initial' ? { initialSteps: steps } : { retrainSteps: steps };
  if (epochs !== undefined) return phase === 'initial' ? { initialEpochs: epochs } : { retrainEpochs: epochs };
  return {};
}

function readConfig(): RunConfig {
  const overrides: WarpSettingsOverrides = {};
  const res = optionalInt('res');
  if (res !== undefined) {
    if (res % 16 !== 0 || res < 16) throw new MedpersamUserError('BAD_OPTION', `working resolution must be a multiple of 16, got ${res}`);
    overrides.network = { resolution: res };
  }
  const schedule: NonNullable<WarpSettingsOverrides['schedule']> = {};
  Object.assign(schedule, phaseBudgetInput('initial', 'steps', 'epochs'), phaseBudgetInput('retrain', 'retrain-steps', 'retrain-epochs'));
  const seed = optionalInt('seed');
  if (seed !== undefined) schedule.seed = seed;
  if (Object.keys(schedule).length > 0) overrides.schedule = schedule;
  const sam = mode() === 'sam';
  const base = new URL('.', document.baseURI);
  return {
    run: RUN,
    mode: mode(),
    engine: input('engine').value as RunConfig['engine'],
    samProvider: input('sam-provider').value as RunConfig['samProvider'],
    classes: [...state.classes],
    warp: {
      preset: input('preset').value as 'cpu' | 'paper',
      overrides,
      labelMode: input('label-warp').value as 'nearest' | 'argmax',
      safetyNet: input('safety-net').checked,
    },
    ...(sam && optionalInt('rounds') !== undefined ? { retrainRounds: optionalInt('rounds') } : {}),
    ...(sam && optionalInt('refinements') !== undefined ? { refinements: optionalInt('refinements') } : {}),
    ...(sam ? { targetEmbedding: input('target-embedding').checked } : {}),
    tfjsWasmBase: new URL('tfjs/', base).href,
    ortWasmBase: new URL('ort/', base).href,
  };
}

/** What identifies the inputs of a run for the page (names, sizes, settings): a different one starts afresh. */
function signatureOf(config: RunConfig): string {
  const files = [state.refFile!, ...(state.maskFile ? [state.maskFile] : []), ...state.images].map((f) => `${f.name}:${f.size}:${f.lastModified}`);
  const { classes: _c, engine: _e, samProvider: _p, tfjsWasmBase: _t, ortWasmBase: _o, ...settings } = config;
  return JSON.stringify({ files, drawn: state.drawn ? Array.from(state.mask!.data.subarray(0, 64)) : null, settings, sam: state.sam ? [state.sam.encoder.name, state.sam.decoder.name] : null });
}

function updateRunButton(): void {
  const ready = !!state.refImage && !!state.mask && state.images.length > 0 && (mode() === 'warp-only' || !!state.sam);
  ($('run') as HTMLButtonElement).disabled = state.running || !ready;
  if (!state.running && !ready) {
    const missing = [!state.refImage && 'the reference image', !state.mask && 'its mask', state.images.length === 0 && 'the images', mode() === 'sam' && !state.sam && 'the SAM model files'].filter(Boolean);
    setStatus(`Still needed: ${missing.join(', ')}.`);
  } else if (!state.running && $('status').dataset['state'] === 'idle') setStatus('Ready: press Run.');
}

async function startRun(): Promise<void> {
  let config: RunConfig;
  try {
    config = readConfig();
  } catch (err) {
    setStatus(describeError(err), 'error');
    return;
  }
  // The page says 'running' before its first await (the stored-run checks below read IndexedDB): a second click, or
  // anything watching the status, never sees the previous run's end state after Run was pressed.
  const before = { text: $('status').textContent ?? '', kind: ($('status').dataset['state'] ?? 'idle') as StatusKind };
  state.running = true;
  ($('run') as HTMLButtonElement).disabled = true;
  setStatus('Starting…', 'running');
  const cancel = (text: string, kind: StatusKind) => {
    state.running = false;
    setStatus(text, kind);
    updateRunButton();
  };
  try {
    const d = await db();
    const signature = signatureOf(config);
    const stored = await d.get<string>('runs', `${RUN}/page-signature`);
    const storedMasks = (await finishedIds(d, RUN)).length;
    if (stored !== undefined && stored !== signature) {
      if (storedMasks > 0 && !confirm(`Start a new run? The stored run (${storedMasks} mask${storedMasks === 1 ? '' : 's'}) will be replaced.`)) return cancel(before.text, before.kind);
      await clearRun(d, RUN);
      clearGallery();
    }
    await d.put('runs', `${RUN}/page-signature`, signature);
  } catch (err) {
    return cancel(`Browser storage failed: ${describeError(err)}`, 'error');
  }
  const mask: File | DrawnMask = state.maskFile ?? { name: 'drawn-mask', width: state.mask!.width, height: state.mask!.height, data: state.mask!.data.slice() };
  const inputs: RunInputs = {
    reference: state.refFile!,
    referenceMask: mask,
    images: state.images,
    ...(config.mode === 'sam' && state.sam ? { sam: [state.sam.encoder, state.sam.decoder] as [ModelFile, ModelFile] } : {}),
  };
  stages.clear();
  $('progress').replaceChildren();
  showUnreadable([]);
  ($('stop') as HTMLButtonElement).disabled = false;
  ($('download') as HTMLButtonElement).disabled = true;
  setStatus('Running… (the page stays responsive: the work runs in a background worker)', 'running');
  worker ??= new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (e: MessageEvent<FromWorker>) => onWorkerMessage(e.data);
  worker.onerror = (e) => finishRun(`the worker failed: ${e.message}`, 'error');
  worker.postMessage({ type: 'start', config, inputs });
}

/** List the images a run skipped because they could not be read (hidden when none). */
function showUnreadable(files: DoneSummary['unreadable']): void {
  const list = $('unreadable-list');
  list.replaceChildren();
  for (const u of files) {
    const item = document.createElement('li');
    item.dataset['file'] = u.file;
    const name = document.createElement('span');
    name.className = 'file';
    name.textContent = u.file;
    const prefix = `${u.file}: `;
    const why = document.createElement('span');
    why.textContent = `: ${u.message.startsWith(prefix) ? u.message.slice(prefix.length) : u.message} `;
    const code = document.createElement('span');
    code.className = 'code';
    code.textContent = `[${u.code}]`;
    item.append(name, why, code);
    list.append(item);
  }
  $('unreadable').hidden = files.length === 0;
}

function finishRun(text: string, kind: 'done' | 'error' | 'stopped'): void {
  state.running = false;
  ($('stop') as HTMLButtonElement).disabled = true;
  setStatus(text, kind);
  updateRunButton();
  void refreshStoredRun();
}

function onWorkerMessage(m: FromWorker): void {
  switch (m.type) {
    case 'engines':
      $('engines').textContent =
        `engines: warp model TF.js ${m.warp.label}` + (m.sam ? ` · SAM ${m.sam}` : '') + (m.isolated ? ' · cross-origin isolated' : ' · not cross-origin isolated (1 thread)') +
        (m.warp.notes.length > 0 ? ` · ${m.warp.notes.join('; ')}` : '');
      $('engines').dataset['warp'] = m.warp.backend;
      break;
    case 'progress':
      onProgress(m.event);
      break;
    case 'overlay':
      addThumb(m.id, { png: m.png, width: m.width, height: m.height });
      break;
    case 'quality': {
      const t = thumbs.get(m.id)?.el.querySelector('.quality');
      if (t) {
        t.textContent = `quality ${m.badge.score.toFixed(2)}${m.badge.flags.length ? ` · ${m.badge.flags.join(', ')}` : ''}`;
        t.classList.toggle('flagged', m.badge.flags.length > 0);
      }
      break;
    }
    case 'done': {
      const s = m.summary;
      showUnreadable(s.unreadable);
      const bad = s.unreadable.length;
      finishRun(
        `Done: ${s.images} image${s.images === 1 ? '' : 's'} segmented in ${formatSeconds(s.seconds)}` +
          (s.resumed ? ` (resumed: ${s.reused} reused)` : '') +
          (bad > 0 ? `; ${bad} file${bad === 1 ? '' : 's'} could not be read and ${bad === 1 ? 'was' : 'were'} skipped (listed below)` : '') +
          '. Download the masks below, or click an overlay to enlarge it.',
        'done',
      );
      break;
    }
    case 'stopped':
      finishRun(`Stopped. ${m.message}`, 'stopped');
      break;
    case 'error':
      finishRun(
        m.internal ? `Internal error (please report it): ${m.message}` : `${m.file ? `${m.file}: ` : ''}${m.message}${m.code === 'RUN_SETTINGS_MISMATCH' ? '\nUse "Start over" to forget the stored run.' : ''}`,
        'error',
      );
      break;
  }
}

async function refreshStoredRun(): Promise<void> {
  const d = await db();
  const n = (await finishedIds(d, RUN)).length;
  const meta = await d.get('runs', `${RUN}/meta`);
  ($('download') as HTMLButtonElement).disabled = n === 0 || state.running;
  $('start-over').hidden = meta === undefined || state.running;
  $('run').textContent = meta !== undefined && !state.running && $('status').dataset['state'] === 'stopped' ? 'Resume' : 'Run';
}

async function download(): Promise<void> {
  const d = await db();
  const ids = await finishedIds(d, RUN);
  const masks: { id: string; png: Uint8Array }[] = [];
  for (const id of ids) masks.push({ id, png: (await d.get<StoredPngEntry>('runs', `${RUN}/mask/${id}`))!.png });
  const classes: ClassNames = state.classes.size > 1 ? state.classes : new Map([[0, 'background']]);
  const zip = buildRunZip({ masks, classes, record: (await d.get('runs', `${RUN}/record`)) ?? null, report: await d.get('runs', `${RUN}/report`) });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([zip as BlobPart], { type: 'application/zip' }));
  a.download = 'medpersam-masks.zip';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

// ---------------------------------------------------------------------------------------------------- wiring

function onFiles(id: string, fn: (files: File[]) => void | Promise<void>): void {
  input(id).addEventListener('change', () => void fn([...(input(id).files ?? [])]));
}

function dropZone(id: string, fn: (files: File[]) => void | Promise<void>): void {
  const el = $(id);
  el.addEventListener('dragover', (e) => {
    e.preventDefault();
    el.classList.add('over');
  });
  el.addEventListener('dragleave', () => el.classList.remove('over'));
  el.addEventListener('drop', (e) => {
    e.preventDefault();
    el.classList.remove('over');
    if (e.dataTransfer) void filesFromDrop(e.dataTransfer.items).then(fn);
  });
}

async function init(): Promise<void> {
  onFiles('ref-image', (f) => f[0] && loadReferenceImage(f[0]));
  onFiles('ref-mask', (f) => f[0] && loadMaskFile(f[0]));
  onFiles('classes-json', (f) => f[0] && loadClassesJson(f[0]));
  onFiles('images', setImages);
  onFiles('images-folder', setImages);
  dropZone('images-drop', setImages);
  dropZone('ref-drop', async (files) => {
    // The mask is the file whose name looks like one (…_mask, …_label, …_seg) or the second one dropped.
    const isMask = (f: File) => /[-_](mask|label|seg)$/i.test(fileStem(f.name));
    const mask = files.find(isMask) ?? files[1];
    const image = files.find((f) => f !== mask);
    if (image) await loadReferenceImage(image);
    if (mask) await loadMaskFile(mask);
  });
  $('draw-mask').addEventListener('click', openEditor);
  $('done-drawing').addEventListener('click', useDrawnMask);
  $('clear-mask').addEventListener('click', () => {
    if (editorLabel) editorLabel.data.fill(0);
    renderEditor();
  });
  $('add-class').addEventListener('click', () => {
    const next = Math.max(0, ...state.classes.keys()) + 1;
    if (next > 255) return;
    state.classes.set(next, `class ${next}`);
    activeClass = next;
    renderClasses(true);
  });
  const canvas = $<HTMLCanvasElement>('editor-canvas');
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    paintAt(canvas, e);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (e.buttons & 1) paintAt(canvas, e);
  });
  for (const r of document.querySelectorAll<HTMLInputElement>('input[name=mode]')) {
    r.addEventListener('change', () => {
      $('sam-files').hidden = mode() !== 'sam';
      updateRunButton();
    });
  }
  onFiles('sam-encoder', () => pickedModelFiles());
  onFiles('sam-decoder', () => pickedModelFiles());
  $('sam-fetch').addEventListener('click', async () => {
    const eu = input('sam-encoder-url').value.trim();
    const du = input('sam-decoder-url').value.trim();
    if (!eu || !du) {
      $('sam-info').textContent = 'give both URLs';
      return;
    }
    $('sam-info').textContent = 'fetching…';
    try {
      const [enc, dec] = await Promise.all([fetchModel(eu), fetchModel(du)]);
      await rememberModel(enc, dec, 'fetched (kept in this browser)');
    } catch (err) {
      $('sam-info').textContent = describeError(err);
    }
  });
  $('sam-forget').addEventListener('click', async () => {
    await (await db()).delete('models', 'sam');
    state.sam = null;
    $('sam-info').textContent = '';
    $('sam-forget').hidden = true;
    updateRunButton();
  });
  $('run').addEventListener('click', () => void startRun());
  $('stop').addEventListener('click', () => {
    worker?.postMessage({ type: 'stop' });
    setStatus('Stopping at the next checkpoint…', 'running');
  });
  $('start-over').addEventListener('click', async () => {
    await clearRun(await db(), RUN);
    clearGallery();
    setStatus('The stored run is forgotten.');
    await refreshStoredRun();
    updateRunButton();
  });
  $('download').addEventListener('click', () => void download());

  // A model remembered from an earlier visit; a run stored by an earlier visit.
  try {
    const d = await db();
    const remembered = await d.get<{ encoder: ModelFile; decoder: ModelFile; source: string }>('models', 'sam');
    if (remembered) {
      state.sam = { encoder: remembered.encoder, decoder: remembered.decoder };
      $('sam-info').textContent = `remembered from your last visit: ${remembered.encoder.name} + ${remembered.decoder.name}`;
      $('sam-forget').hidden = false;
    }
    const n = await loadStoredGallery();
    if (n > 0 && !state.running) setStatus(`A stored run has ${n} mask${n === 1 ? '' : 's'} (below). Pick the same inputs and press Run to continue it, or Start over.`, 'stopped');
    await refreshStoredRun();
  } catch (err) {
    setStatus(`Browser storage is not available (${describeError(err)}): runs cannot be resumed.`, 'error');
  }
  updateRunButton();
}

void init();
