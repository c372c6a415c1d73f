import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { samFrame as promptsSamFrame } from '../../src/prompts/index.js';
import { samFrame } from '../../src/sam/frames.js';

const srcDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** The relative imports of a source file, as repo paths under src/ (".js" → ".ts"). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+'([^']+)'/g)) {
    const spec = m[1]!;
    out.push(spec.startsWith('.') ? relative(srcDir, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))) : spec);
  }
  return out;
}

describe('prompts stay browser-safe', () => {
  it('prompts/ imports only pure modules: image/, errors, its own files and sam/frames (no ONNX runtime)', () => {
    const promptsDir = join(srcDir, 'prompts');
    const seen = new Set<string>();
    for (const f of readdirSync(promptsDir).filter((n) => n.endsWith('.ts'))) {
      for (const dep of importsOf(join(promptsDir, f))) seen.add(dep);
    }
    const allowed = (dep: string) =>
      dep.startsWith('prompts/') || dep.startsWith('image/') || dep === 'errors.ts' || dep === 'sam/frames.ts';
    expect([...seen].filter((d) => !allowed(d))).toEqual([]);
    expect(seen.has('sam/frames.ts')).toBe(true);
  });

  it('sam/frames imports nothing', () => {
    expect(importsOf(join(srcDir, 'sam', 'frames.ts'))).toEqual([]);
  });

  it('the prompt engine uses the SAM component’s frame (one samFrame)', () => {
    expect(promptsSamFrame).toBe(samFrame);
  });
});
