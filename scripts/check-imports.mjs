#!/usr/bin/env node
/**
 * Fails when the imports of src/ and workers/ form a cycle, type-only imports included
 * (a type cycle is still two modules that cannot be understood one without the other).
 * Reads import specifiers as text, resolves relative and `$lib/` paths, and reports each
 * strongly connected component with the edges that tie it. The same holds one level up:
 * the areas of src/lib (its first-level folders) must import each other one way only.
 * Part of `npm run check`.
 *
 *   node scripts/check-imports.mjs
 */
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const SOURCE = /\.(ts|svelte)$/;

function walk(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(full));
    else if (SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

const files = [...walk(path.join(root, 'src')), ...walk(path.join(root, 'workers'))];
const known = new Set(files);

function resolve(from, spec) {
  let base;
  if (spec.startsWith('$lib/')) base = path.join(root, 'src/lib', spec.slice(5));
  else if (spec.startsWith('.')) base = path.resolve(path.dirname(from), spec);
  else return null;
  for (const candidate of [base, `${base}.ts`, `${base}/index.ts`]) if (known.has(candidate)) return candidate;
  return null;
}

// `import … from '…'`, `export … from '…'`, `import('…')`, `new URL('…', import.meta.url)`.
const SPEC = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|new URL\(\s*)['"]([^'"]+)['"]/g;
const edges = new Map();
for (const file of files) {
  const text = fs.readFileSync(file, 'utf8');
  const to = new Set();
  for (const m of text.matchAll(SPEC)) {
    const target = resolve(file, m[1]);
    if (target && target !== file) to.add(target);
  }
  edges.set(file, to);
}

// Tarjan's strongly connected components, iteratively (deep trees overflow recursion).
let index = 0;
const idx = new Map();
const low = new Map();
const onStack = new Set();
const stack = [];
const components = [];
for (const start of files) {
  if (idx.has(start)) continue;
  const work = [[start, [...edges.get(start)], 0]];
  idx.set(start, index);
  low.set(start, index++);
  stack.push(start);
  onStack.add(start);
  while (work.length > 0) {
    const frame = work[work.length - 1];
    const [node, next] = frame;
    if (frame[2] < next.length) {
      const child = next[frame[2]++];
      if (!idx.has(child)) {
        idx.set(child, index);
        low.set(child, index++);
        stack.push(child);
        onStack.add(child);
        work.push([child, [...edges.get(child)], 0]);
      } else if (onStack.has(child)) {
        low.set(node, Math.min(low.get(node), idx.get(child)));
      }
      continue;
    }
    work.pop();
    if (work.length > 0) {
      const parent = work[work.length - 1][0];
      low.set(parent, Math.min(low.get(parent), low.get(node)));
    }
    if (low.get(node) === idx.get(node)) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) components.push(component);
    }
  }
}

const rel = (f) => path.relative(root, f);

/** The src/lib area of a module (`train` for src/lib/train/models.ts), or null outside src/lib. */
function areaOf(file) {
  const parts = rel(file).split(path.sep);
  return parts[0] === 'src' && parts[1] === 'lib' && parts.length > 3 ? parts[2] : null;
}
const areaEdges = new Map();
for (const [from, tos] of edges) {
  const a = areaOf(from);
  if (!a) continue;
  for (const to of tos) {
    const b = areaOf(to);
    if (!b || b === a) continue;
    const key = `${a} -> ${b}`;
    if (!areaEdges.has(key)) areaEdges.set(key, `${rel(from)} -> ${rel(to)}`);
  }
}
// Pairs of areas that reach each other, through any number of areas between.
const areas = [...new Set([...areaEdges.keys()].flatMap((key) => key.split(' -> ')))];
const reaches = new Set(areaEdges.keys());
for (const k of areas) for (const a of areas) for (const b of areas) {
  if (reaches.has(`${a} -> ${k}`) && reaches.has(`${k} -> ${b}`)) reaches.add(`${a} -> ${b}`);
}
const areaCycles = [...areaEdges.keys()]
  .map((key) => key.split(' -> '))
  .filter(([a, b]) => reaches.has(`${b} -> ${a}`));

if (components.length === 0 && areaCycles.length === 0) {
  console.log(`imports: ${files.length} modules, no cycle between modules or between the areas of src/lib`);
} else {
  for (const [a, b] of areaCycles) {
    console.error(`src/lib/${a} imports src/lib/${b}, which leads back to ${a}: ${areaEdges.get(`${a} -> ${b}`)}`);
  }
  for (const component of components) {
    const members = new Set(component);
    console.error(`import cycle of ${component.length} modules:`);
    for (const from of component) {
      for (const to of edges.get(from)) if (members.has(to)) console.error(`  ${rel(from)} -> ${rel(to)}`);
    }
  }
  console.error('Break each cycle: move what both sides need into a module that imports neither.');
  process.exit(1);
}
