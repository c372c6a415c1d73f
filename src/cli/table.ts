/**
 * Plain-text tables for the terminal: columns padded to their widest cell, numbers right-aligned.
 */

export interface TableColumn {
  header: string;
  /** Default 'left' for the first column, 'right' for the others. */
  align?: 'left' | 'right';
}

/** Render a table; `rows` hold already-formatted cells. A row of `null` draws a separator line. */
export function formatTable(columns: readonly TableColumn[], rows: ReadonlyArray<readonly string[] | null>): string {
  const widths = columns.map((c) => c.header.length);
  for (const row of rows) {
    if (!row) continue;
    row.forEach((cell, i) => {
      if (i < widths.length) widths[i] = Math.max(widths[i]!, cell.length);
    });
  }
  const alignOf = (i: number) => columns[i]!.align ?? (i === 0 ? 'left' : 'right');
  const renderRow = (cells: readonly string[]) =>
    columns
      .map((_, i) => {
        const cell = cells[i] ?? '';
        return alignOf(i) === 'left' ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  const separator = widths.map((w) => '-'.repeat(w)).join('  ');
  const lines = [renderRow(columns.map((c) => c.header)), separator];
  for (const row of rows) lines.push(row ? renderRow(row) : separator);
  return lines.join('\n');
}

/** A score in [0, 1] with a fixed number of decimals ("0.9731"); NaN prints as "-". */
export function formatScore(value: number, decimals = 4): string {
  return Number.isFinite(value) ? value.toFixed(decimals) : '-';
}

/** A score in [0, 1] as a percentage ("97.31%"). */
export function formatPercent(value: number, decimals = 2): string {
  return Number.isFinite(value) ? `${(value * 100).toFixed(decimals)}%` : '-';
}

/** Seconds as "12.3 s" or "4 min 05 s". */
export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${String(Math.round(seconds - minutes * 60)).padStart(2, '0')} s`;
}
