/**
 * `medpersam eval --pred DIR --gt DIR`: Dice and IoU per class per image and their means (the paper's DICE and
 * mIoU), as a table on screen and optionally JSON / CSV / HTML reports. Missing predictions count as empty
 * masks and are listed.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { EvaluationResult } from '../../pipeline/evaluate.js';
import { renderEvaluationReport, writeEvaluationReports } from '../../pipeline/evaluate.js';
import type { CliContext } from '../context.js';
import { writeLine, type CliWritable } from '../io.js';
import { formatDuration, formatPercent, formatScore, formatTable, type TableColumn } from '../table.js';

export interface EvalCommandOptions {
  pred: string;
  gt: string;
  classes?: string;
  /** true = JSON on stdout instead of the table; a string = also write JSON to that file. */
  json?: string | true;
  csv?: string;
  html?: string;
  images?: string;
  force?: boolean;
}

/** The on-screen result: per-image rows, then the per-class means. */
export function printEvaluationTable(out: CliWritable, result: EvaluationResult): void {
  const { summary } = result;
  const columns: TableColumn[] = [
    { header: 'image' },
    ...summary.classes.map((c) => ({ header: `${c.name} Dice` })),
    { header: 'mean Dice' },
    { header: 'mean IoU' },
  ];
  const rows: Array<string[] | null> = summary.images.map((img) => [
    img.missing ? `${img.id} (missing)` : img.id,
    ...img.perClass.map((s) => formatScore(s.dice)),
    formatScore(img.meanDice),
    formatScore(img.meanIoU),
  ]);
  rows.push(null);
  rows.push(['mean Dice', ...summary.classes.map((c) => formatScore(c.dice)), formatScore(summary.meanDice), '']);
  rows.push(['mean IoU', ...summary.classes.map((c) => formatScore(c.iou)), '', formatScore(summary.meanIoU)]);
  writeLine(out, formatTable(columns, rows));
  writeLine(out);
  const perClass = summary.classes.map((c) => `${c.name} ${formatPercent(c.dice)}`).join(', ');
  writeLine(
    out,
    `${summary.count} images: mean Dice ${formatPercent(summary.meanDice)} (${perClass}), mean IoU ${formatPercent(summary.meanIoU)}`,
  );
  if (summary.missing.length > 0) {
    writeLine(out, `missing predictions (${summary.missing.length}, scored as empty masks): ${summary.missing.join(', ')}`);
  }
  if (result.unmatchedPredictions.length > 0) {
    writeLine(out, `predictions without ground truth (not scored): ${result.unmatchedPredictions.length}`);
  }
}

export function registerEvalCommand(program: Command, ctx: CliContext): void {
  program
    .command('eval')
    .description('score predicted label masks against ground-truth masks (Dice / IoU per class and means)')
    .requiredOption('--pred <dir>', 'folder of predicted label masks')
    .requiredOption('--gt <dir>', 'folder of ground-truth label masks (matched by file stem; _mask suffixes tolerated)')
    .option('--classes <file>', 'classes.json (index → name); default: every class found in the masks')
    .option('--json [file]', 'write the full result as JSON to <file>; without <file>, print JSON instead of the table')
    .option('--csv <file>', 'write per-image scores as CSV')
    .option('--html <file>', 'write a self-contained HTML report (summary + overlay thumbnails, worst first)')
    .option('--images <dir>', 'images to draw the HTML overlays on (matched by stem; default: the ground truth in grey)')
    .option('--force', 'overwrite existing report files')
    .addHelpText(
      'after',
      '\nExamples:\n  medpersam eval --pred results/masks --gt data/masks --classes data/classes.json\n' +
        '  medpersam eval --pred results/masks --gt data/masks --csv scores.csv --html report.html\n' +
        '  medpersam eval --pred results/masks --gt data/masks --json > scores.json',
    )
    .action(async (opts: EvalCommandOptions, command: Command) => {
      const started = performance.now();
      const progress = ctx.progress(command);
      let result: EvaluationResult;
      try {
        result = await ctx.deps.evaluateFolders(resolve(opts.pred), resolve(opts.gt), {
          classes: opts.classes === undefined ? undefined : resolve(opts.classes),
          onProgress: progress.onProgress,
        });
        const written = await writeEvaluationReports(result, {
          jsonPath: typeof opts.json === 'string' ? resolve(opts.json) : undefined,
          csvPath: opts.csv === undefined ? undefined : resolve(opts.csv),
          htmlPath: opts.html === undefined ? undefined : resolve(opts.html),
          imagesDir: opts.images === undefined ? undefined : resolve(opts.images),
          overwrite: opts.force === true,
          onProgress: progress.onProgress,
        });
        progress.stop();
        for (const path of written) ctx.note(command, `wrote ${path}`);
      } finally {
        progress.stop();
      }
      if (opts.json === true) {
        ctx.io.stdout.write(renderEvaluationReport(result, 'json'));
      } else {
        printEvaluationTable(ctx.io.stdout, result);
      }
      ctx.note(command, `evaluated in ${formatDuration((performance.now() - started) / 1000)}`);
    });
}
