/**
 * The src/lib modules the UI may import values from (scripts/ui-lib-imports.mjs, enforced
 * by eslint.config.js) must not reach tfjs through any import chain: a value import
 * bundles the whole chain into the main thread. Type-only imports are erased by the
 * compiler and are not followed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UI_LIB_VALUE_IMPORTS } from '../../scripts/ui-lib-imports.mjs';

const LIB = path.resolve(__dirname, '../../src/lib');

// `import … from '…'`, `export … from '…'`, `import '…'`, `import('…')`, `new URL('…', import.meta.url)`.
const STATEMENT = /\b(import|export)\s+(type\s+)?([\w*\s{},$]*?)\s*from\s*['"]([^'"]+)['"]|\bimport\s*\(?\s*['"]([^'"]+)['"]|new URL\(\s*['"]([^'"]+)['"]/g;

/** The specifiers of `file`'s value imports: type-only statements and all-type braces skipped. */
function valueImports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  for (const m of text.matchAll(STATEMENT)) {
    if (m[4] !== undefined) {
      if (m[2] !== undefined) continue;
      const clause = (m[3] ?? '').trim();
      const braces = /^\{([\s\S]*)\}$/.exec(clause);
      const names = braces ? (braces[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean) : [clause];
      if (braces && names.length > 0 && names.every((n) => n.startsWith('type '))) continue;
      out.push(m[4]);
    } else {
      out.push((m[5] ?? m[6]) as string);
    }
  }
  return out;
}

function resolveModule(from: string, spec: string): string | null {
  const base = spec.startsWith('$lib/') ? path.join(LIB, spec.slice(5)) : spec.startsWith('.') ? path.resolve(path.dirname(from), spec.replace(/\?.*$/, '')) : null;
  if (base === null) return null;
  for (const candidate of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
  }
  throw new Error(`${path.relative(LIB, from)} imports "${spec}", which does not resolve.`);
}

/** The first chain of value imports from `start` to a `@tensorflow/` package, or null. */
function tfjsChain(start: string): string[] | null {
  const seen = new Set<string>();
  const visit = (file: string, chain: string[]): string[] | null => {
    if (seen.has(file)) return null;
    seen.add(file);
    if (!file.endsWith('.ts')) return null; // .wgsl ?raw and the like
    for (const spec of valueImports(file)) {
      if (spec.startsWith('@tensorflow/')) return [...chain, spec];
      const next = resolveModule(file, spec);
      if (next) {
        const found = visit(next, [...chain, path.relative(LIB, next)]);
        if (found) return found;
      }
    }
    return null;
  };
  return visit(start, [path.relative(LIB, start)]);
}

describe('modules the UI may import values from', () => {
  it.each(UI_LIB_VALUE_IMPORTS)('src/lib/%s reaches no tfjs', (mod) => {
    expect(tfjsChain(path.join(LIB, `${mod}.ts`))).toBeNull();
  });

  it('the walker does find tfjs behind a module that imports it', () => {
    expect(tfjsChain(path.join(LIB, 'export/export-job.ts'))).not.toBeNull();
    expect(tfjsChain(path.join(LIB, 'train/optim.ts'))?.at(-1)).toMatch(/^@tensorflow\//);
  });
});
