/**
 * The browser entry (src/index.ts) must load in a browser: its import graph reaches no `node:` module or Node
 * built-in, no sharp, no onnxruntime-node, and its files use no Node globals (Buffer, __dirname, require).
 * Two independent checks: a static walk of our own sources (runtime imports only: `import type` is erased), and
 * a browser bundle of the entry with esbuild (platform "browser"), which also follows the third-party packages and
 * fails on any module that needs a Node built-in.
 */
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const NODE_ONLY_PACKAGES = ['sharp', 'onnxruntime-node', '@tensorflow/tfjs-node', 'commander', 'cli-progress'];

/** Runtime import specifiers of one file: static imports / re-exports (not type-only) and literal dynamic imports. */
function runtimeImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!node.importClause?.isTypeOnly) out.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!node.isTypeOnly) out.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteral(arg)) out.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** Every source file reachable from `entry` through runtime imports, and the bare specifiers they import. */
function walk(entry: string): { files: string[]; bare: Map<string, string[]> } {
  const seen = new Set<string>();
  const bare = new Map<string, string[]>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const spec of runtimeImports(file)) {
      if (spec.startsWith('.')) queue.push(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else bare.set(spec, [...(bare.get(spec) ?? []), relative(root, file)]);
    }
  }
  return { files: [...seen].sort(), bare };
}

const packageName = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
const isNodeBuiltin = (spec: string) => spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!);

describe('browser entry src/index.ts', () => {
  const entry = resolve(root, 'src/index.ts');
  const graph = walk(entry);

  it('reaches the core loop, the decoders and the warp model (the walk sees the graph)', () => {
    const files = graph.files.map((f) => relative(root, f));
    for (const f of ['src/pipeline/core.ts', 'src/io/read-image.ts', 'src/io/png.ts', 'src/warp/model.ts', 'src/pipeline/run-store.ts']) {
      expect(files).toContain(f);
    }
  });

  it('imports no node: module, Node built-in, sharp or onnxruntime-node', () => {
    const offenders = [...graph.bare].filter(([spec]) => isNodeBuiltin(spec) || NODE_ONLY_PACKAGES.includes(packageName(spec)));
    expect(offenders).toEqual([]);
  });

  it('its files use no Node globals', () => {
    const bad: string[] = [];
    for (const f of graph.files) {
      const text = readFileSync(f, 'utf8');
      const code = ts.createSourceFile(f, text, ts.ScriptTarget.ES2022, true);
      const locals = new Set<string>();
      const collect = (node: ts.Node): void => {
        if ((ts.isVariableDeclaration(node) || ts.isParameter(node)) && ts.isIdentifier(node.name)) locals.add(node.name.text);
        ts.forEachChild(node, collect);
      };
      collect(code);
      const visit = (node: ts.Node): void => {
        if (ts.isIdentifier(node) && ['Buffer', '__dirname', '__filename', 'require'].includes(node.text) && !locals.has(node.text)) {
          const parent = node.parent;
          // a property name (x.require) is not a use of the global
          if (!(parent && ts.isPropertyAccessExpression(parent) && parent.name === node)) bad.push(`${relative(root, f)}: ${node.text}`);
        }
        ts.forEachChild(node, visit);
      };
      visit(code);
    }
    expect(bad).toEqual([]);
  });

  it('bundles for the browser (esbuild, platform "browser"): no module of the graph needs a Node built-in', async () => {
    const esbuild = await import('esbuild');
    const result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile!.inputs);
    expect(inputs.some((i) => i.includes('src/pipeline/core.ts'))).toBe(true);
    const packages = new Set(inputs.filter((i) => i.includes('node_modules/')).map((i) => packageName(i.split('node_modules/').pop()!)));
    // (a Node built-in without a browser replacement would have failed the build: nothing is external)
    for (const p of NODE_ONLY_PACKAGES) expect(packages.has(p)).toBe(false);
  }, 60_000);
});

describe('the browser app (src/app)', () => {
  it('its page and worker reach no node: module, Node built-in, sharp or onnxruntime-node', () => {
    for (const entry of ['src/app/main.ts', 'src/app/worker.ts']) {
      const { files, bare } = walk(resolve(root, entry));
      expect(files.map((f) => relative(root, f))).toContain('src/io/png.ts');
      expect([...bare].filter(([spec]) => isNodeBuiltin(spec) || NODE_ONLY_PACKAGES.includes(packageName(spec)))).toEqual([]);
    }
  });
});

describe('Node entry src/index-node.ts', () => {
  it('adds the file-system adapters on top of the browser entry', async () => {
    const node = await import('../../src/index-node.js');
    const browser = await import('../../src/index.js');
    for (const name of Object.keys(browser)) expect(Object.keys(node)).toContain(name);
    expect(typeof node.runMedPerSam).toBe('function');
    expect(typeof node.readImage).toBe('function');
    expect(typeof node.loadSamModel).toBe('function');
    // the same name, the Node twin (sharp) in Node and the pure one in the browser entry
    expect(node.decodeImage).not.toBe(browser.decodeImage);
    expect('readImage' in browser).toBe(false);
  });
});
