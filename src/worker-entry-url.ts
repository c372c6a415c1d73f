/**
 * The URL to start a Node worker_thread on, for an entry module beside the calling module. From a built package the
 * `.js` entry is loaded directly; from the TypeScript sources (tsx, vitest) a tiny ESM bootstrap registers tsx's
 * loader first, then imports the `.ts` entry. Node-only (uses tsx's resolver only from sources).
 */
export function nodeWorkerEntryUrl(callerUrl: string, entryBaseName: string): URL {
  if (callerUrl.endsWith('.js')) return new URL(`./${entryBaseName}.js`, callerUrl);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const entry = new URL(`./${entryBaseName}.ts`, callerUrl).href;
  const code = `const { register } = await import(${JSON.stringify(tsxApi)}); register(); await import(${JSON.stringify(entry)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}
