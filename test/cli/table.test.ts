import { describe, expect, it } from 'vitest';
import { formatDuration, formatPercent, formatScore, formatTable } from '../../src/cli/table.js';

describe('formatTable', () => {
  it('pads columns to the widest cell, first column left, others right, separators for null rows', () => {
    const text = formatTable(
      [{ header: 'image' }, { header: 'Dice' }, { header: 'note', align: 'left' }],
      [['a', '0.5000', 'x'], null, ['longer-id', '1.0000', 'yy']],
    );
    expect(text.split('\n')).toEqual([
      'image        Dice  note',
      '---------  ------  ----',
      'a          0.5000  x',
      '---------  ------  ----',
      'longer-id  1.0000  yy',
    ]);
  });
});

describe('number formatting', () => {
  it('formats scores, percentages and durations', () => {
    expect(formatScore(0.77391)).toBe('0.7739');
    expect(formatScore(1)).toBe('1.0000');
    expect(formatScore(Number.NaN)).toBe('-');
    expect(formatPercent(0.77391)).toBe('77.39%');
    expect(formatPercent(0.774, 1)).toBe('77.4%');
    expect(formatDuration(12.34)).toBe('12.3 s');
    expect(formatDuration(125)).toBe('2 min 05 s');
  });
});
