/** Comments and docs point only at files that are in the repository (docs/*.md, README.md). */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function files(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.') || name === 'dist') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p, ext));
    else if (ext.test(name)) out.push(p);
  }
  return out;
}

describe('documentation pointers', () => {
  const sources = ['src', 'test', 'bench'].flatMap((d) => files(join(root, d), /\.ts$/));

  it('every docs/<name>.md named in src, test and bench exists', () => {
    const missing: string[] = [];
    for (const f of sources) {
      for (const m of readFileSync(f, 'utf8').matchAll(/docs\/([\w.-]+\.md)/g)) {
        if (!existsSync(join(root, 'docs', m[1]!))) missing.push(`${relative(root, f)}: docs/${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('no pointer at the design notes that live outside the repository', () => {
    const outside = /(?<![\w/])(design\.md|CONTRACTS\.md|anchors\.md)|(?<!docs\/)sam-onnx\.md/;
    const hits = sources.filter((f) => f !== fileURLToPath(import.meta.url) && outside.test(readFileSync(f, 'utf8'))).map((f) => relative(root, f));
    expect(hits).toEqual([]);
  });

  it('the docs link to files that exist', () => {
    for (const doc of files(join(root, 'docs'), /\.md$/)) {
      for (const m of readFileSync(doc, 'utf8').matchAll(/\]\(([^)#:]+)\)/g)) expect(existsSync(resolve(dirname(doc), m[1]!)), `${doc}: ${m[1]}`).toBe(true);
      for (const m of readFileSync(doc, 'utf8').matchAll(/`((?:src|test|bench)\/[\w./-]+\.ts)`/g)) expect(existsSync(join(root, m[1]!)), `${doc}: ${m[1]}`).toBe(true);
    }
  });
});
