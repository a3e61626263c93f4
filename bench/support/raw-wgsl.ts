/**
 * The GPU programs import their WGSL with Vite's `?raw` suffix, which tsx does not know.
 * `registerRawImports()` installs a module hook that serves such a file as a module whose
 * default export is its text, as Vite does. Call it before importing any GPU program.
 */
import { register } from 'node:module';

const RAW_HOOK = `
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
export async function resolve(specifier, context, next) {
  if (!specifier.endsWith('?raw')) return next(specifier, context);
  return { url: new URL(specifier, context.parentURL).href, shortCircuit: true };
}
export async function load(url, context, next) {
  if (!url.endsWith('?raw')) return next(url, context);
  const text = readFileSync(fileURLToPath(url.slice(0, -'?raw'.length)), 'utf8');
  return { format: 'module', source: 'export default ' + JSON.stringify(text) + ';', shortCircuit: true };
}`;

let registered = false;

export function registerRawImports(): void {
  if (registered) return;
  register(`data:text/javascript,${encodeURIComponent(RAW_HOOK)}`, import.meta.url);
  registered = true;
}
