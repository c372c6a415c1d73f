import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { MedpersamUserError } from '../../src/errors.js';
import { EXIT_INTERNAL_ERROR, EXIT_OK, EXIT_USER_ERROR, handleCliError, REPORT_HINT } from '../../src/cli/exit.js';
import { captureIo } from './helpers.js';

describe('handleCliError', () => {
  it('user errors: exit 1, "error: <file>: <problem>", no stack without --debug', () => {
    const io = captureIo();
    const code = handleCliError(new MedpersamUserError('SIZE_MISMATCH', 'sizes differ', { file: '/x/a.png' }), io);
    expect(code).toBe(EXIT_USER_ERROR);
    expect(io.err()).toBe('error: /x/a.png: sizes differ\n');
    expect(io.out()).toBe('');
  });

  it('internal errors: exit 2, message + report hint; the stack and causes only with --debug', () => {
    const plain = captureIo();
    const err = new TypeError('boom', { cause: new RangeError('inner') });
    expect(handleCliError(err, plain)).toBe(EXIT_INTERNAL_ERROR);
    expect(plain.err()).toBe(`internal error: boom\n${REPORT_HINT}\n`);
    const debug = captureIo();
    expect(handleCliError(err, debug, { debug: true })).toBe(EXIT_INTERNAL_ERROR);
    expect(debug.err()).toContain('TypeError: boom\n    at ');
    expect(debug.err()).toContain('caused by: RangeError: inner');
    expect(handleCliError('a string', captureIo())).toBe(EXIT_INTERNAL_ERROR);
  });

  it('commander errors keep their exit status (already printed by commander)', () => {
    const io = captureIo();
    expect(handleCliError(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'), io)).toBe(EXIT_OK);
    expect(handleCliError(new CommanderError(1, 'commander.missingMandatoryOptionValue', 'x'), io)).toBe(EXIT_USER_ERROR);
    expect(io.err()).toBe('');
  });
});
