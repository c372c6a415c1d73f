/**
 * `medpersam models list | pull <id> | verify <dir|id>`: the SAM ONNX model registry (src/sam/manage.ts).
 * The model home is $MEDPERSAM_HOME (default ~/.cache/medpersam); $MEDPERSAM_MODEL_BASE_URL replaces the
 * download base URL (mirrors). Both are read by the library.
 */
import type { Command } from 'commander';
import { MedpersamUserError } from '../../errors.js';
import { medpersamHome, modelsRoot } from '../../sam/home.js';
import {
  listModels,
  pullModel,
  resolveSamModel,
  verifyModelDir,
  type ModelListing,
  type VerifiedGraph,
  type VerifyReport,
} from '../../sam/manage.js';
import type { CliContext } from '../context.js';
import { writeLine, type CliWritable } from '../io.js';
import { formatTable } from '../table.js';
import { parseIntegerOption } from './options.js';

export interface ModelsListOptions {
  json?: boolean;
}

export interface ModelsPullOptions {
  force?: boolean;
}

export interface ModelsVerifyOptions {
  smoke?: boolean;
  threads?: string;
  json?: boolean;
}

/** The `models list` table: id, size, installed folder ("-" when not), checksum pinned?, description. */
export function printModelTable(out: CliWritable, models: readonly ModelListing[]): void {
  const rows = models.map((m) => [
    m.id,
    m.sizeText,
    m.installed ?? (m.partialDownload ? '- (partial download)' : '-'),
    m.checksumsPinned ? 'yes' : 'no',
    m.description,
  ]);
  writeLine(
    out,
    formatTable(
      [{ header: 'id' }, { header: 'size' }, { header: 'installed', align: 'left' }, { header: 'checksum pinned' }, { header: 'description', align: 'left' }],
      rows,
    ),
  );
}

function printGraph(out: CliWritable, title: string, g: VerifiedGraph): void {
  writeLine(out, title);
  for (const v of g.inputs) writeLine(out, `    input   ${v.name.padEnd(20)} ${v.type.padEnd(8)} ${v.shape}`);
  for (const v of g.outputs) writeLine(out, `    output  ${v.name.padEnd(20)} ${v.type.padEnd(8)} ${v.shape}`);
  if (g.externalData.length > 0) writeLine(out, `    external data: ${g.externalData.join(', ')}`);
}

/** The `models verify` report: every input and output with its shape, the encoder variant, K, checks, warnings. */
export function printVerifyReport(out: CliWritable, r: VerifyReport): void {
  writeLine(out, `model folder: ${r.dir}`);
  printGraph(out, `  encoder: ${r.encoder.file} (variant ${r.encoder.variant}, opset ${r.encoder.opset ?? '?'})`, r.encoder);
  printGraph(out, `  decoder: ${r.decoder.file} (K = ${r.decoder.k ?? 'dynamic'} mask outputs, opset ${r.decoder.opset ?? '?'})`, r.decoder);
  writeLine(
    out,
    `  target-semantic prompting (PerSAM target embedding): ${r.decoder.targetEmbedding ? 'can be enabled' : 'NOT available'} — ${r.decoder.targetEmbeddingDetail}`,
  );
  const embeddingSource =
    r.embeddingDimsSource === 'encoder'
      ? ''
      : r.embeddingDimsSource === 'decoder'
        ? " (from the decoder's image_embeddings input: the encoder's output dims are symbolic)"
        : ' (neither graph fixes it: set by the first encoder run)';
  const embedding = r.embeddingDims ? `[${r.embeddingDims.join(',')}]` : 'not known yet (run with --smoke)';
  writeLine(out, `  embedding: ${embedding}${embeddingSource}, execution provider: ${r.executionProvider}`);
  const c = r.checksums;
  const checksumText =
    c.status === 'ok'
      ? `ok (${c.checked} files match manifest.json, ${c.policy})`
      : c.status === 'mismatch'
        ? `MISMATCH (${c.mismatched.length} of ${c.checked} files differ from manifest.json)`
        : c.status === 'no-manifest'
          ? 'not checked (no manifest.json: not pulled by medpersam)'
          : 'skipped';
  writeLine(out, `  checksums: ${checksumText}`);
  if (r.smokeTest) {
    const s = r.smokeTest;
    writeLine(
      out,
      `  smoke test: ${s.ok ? 'ok' : 'FAILED'}: ${s.detail} (encode ${s.encodeMs.toFixed(0)} ms, decode ${s.decodeMs.toFixed(0)} ms)`,
    );
  }
  // The target-embedding line above already says why it is off.
  for (const w of r.warnings) if (!w.startsWith('target-semantic prompting is off')) writeLine(out, `  warning: ${w}`);
  for (const p of r.problems) writeLine(out, `  problem: ${p}`);
  writeLine(out, r.ok ? 'result: ok' : 'result: NOT OK');
}

export function registerModelsCommand(program: Command, ctx: CliContext): void {
  const models = program
    .command('models')
    .description('list, download and verify SAM ONNX models')
    .addHelpText(
      'after',
      '\nModels live in $MEDPERSAM_HOME/models (default ~/.cache/medpersam/models); ' +
        '$MEDPERSAM_MODEL_BASE_URL replaces the download base URL (a mirror).',
    );
  models
    .command('list')
    .description('list known SAM models and which are downloaded')
    .option('--json', 'print the list as JSON')
    .action(async (opts: ModelsListOptions, command: Command) => {
      const listing = listModels();
      if (opts.json) {
        ctx.io.stdout.write(JSON.stringify(listing, null, 2) + '\n');
        return;
      }
      printModelTable(ctx.io.stdout, listing);
      ctx.note(command, `\nmodel folder: ${modelsRoot(medpersamHome())} (set $MEDPERSAM_HOME to move it)`);
      if (listing.some((m) => !m.urlsVerified)) {
        ctx.note(command, 'the download URLs are public but were not test-fetched by this build; checksums are recorded on first download');
      }
    });
  models
    .command('pull')
    .description('download a SAM model by id into the model cache ($MEDPERSAM_HOME or ~/.cache/medpersam)')
    .argument('<id>', 'model id (see "medpersam models list")')
    .option('--force', 'download again even when the model is installed')
    .addHelpText('after', '\nExample:\n  medpersam models pull mobile-sam')
    .action(async (id: string, opts: ModelsPullOptions, command: Command) => {
      const progress = ctx.progress(command);
      let result;
      try {
        result = await pullModel(id, { force: opts.force === true, onProgress: progress.onProgress });
      } finally {
        progress.stop();
      }
      for (const note of result.notes) ctx.note(command, `note: ${note}`);
      writeLine(ctx.io.stdout, result.downloaded ? `pulled ${result.id} into ${result.dir}` : `${result.id} is installed in ${result.dir}`);
      ctx.note(command, `use it with: medpersam segment --sam ${result.id} …   (check it: medpersam models verify ${result.id} --smoke)`);
    });
  models
    .command('verify')
    .description('check that a folder (or an installed model id) holds a usable SAM encoder/decoder ONNX pair')
    .argument('<dir>', 'model folder or installed model id')
    .option('--smoke', 'also encode a small synthetic image and decode point + box + mask prompts')
    .option('--threads <n>', 'ONNX Runtime threads')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExit code 1 when the model does not load, a file differs from manifest.json or the smoke test fails.')
    .action(async (dirOrId: string, opts: ModelsVerifyOptions, command: Command) => {
      const threads = opts.threads === undefined ? undefined : parseIntegerOption('--threads', opts.threads, 1, 1024);
      const dir = await resolveSamModel(dirOrId);
      const progress = ctx.progress(command);
      let report: VerifyReport;
      try {
        report = await verifyModelDir(dir, { smokeTest: opts.smoke === true, threads, onProgress: progress.onProgress });
      } finally {
        progress.stop();
      }
      if (opts.json) ctx.io.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else printVerifyReport(ctx.io.stdout, report);
      if (!report.ok) {
        throw new MedpersamUserError('MODEL_CHECK_FAILED', `model check failed: ${report.problems.join('; ')}`, { file: report.dir });
      }
    });
}
