/**
 * Slices, or "data unit tests": a named predicate over a sample's label, prediction,
 * attributes, provenance, split and image statistics, with the accuracy the model must
 * reach on the samples it selects ("digit 8 and color = red: at least 0.9").
 *
 * Predicates are plain JSON, because they are saved with the project and cross worker
 * boundaries:
 *
 *   { "all": [ { "field": "label", "op": "eq", "value": "8" },
 *              { "field": "attr", "name": "color", "op": "in", "values": ["red"] },
 *              { "field": "stat", "name": "brightness", "op": "lt", "value": 0.25 } ] }
 *
 * Combinators `all` / `any` / `not`; ops eq, neq, in, lt, lte, gt, gte. JSON read from
 * storage or typed by a user goes through `validateSlices` first, which names the path
 * of every problem. A readable text form (`label = 8 and color = red`) is parsed by
 * `parsePredicate` and printed by `formatPredicate`.
 *
 * A missing value (an unlabeled sample's label, an attribute the sample lacks, a gray
 * image's dominant hue, statistics never computed) matches no condition, whatever the op,
 * as NULL does in SQL: `color != red` keeps only samples that have a colour. Wrap it in
 * `not` (`not color = red`) to keep the samples without one too.
 */
import { PROVENANCE_KINDS, SPLITS, type ProvenanceKind, type Split } from '../storage/records';
import { HearthError } from '../jobs/errors';
import { IMAGE_STAT_NAMES, type ImageStatName } from '../analysis/image-stats';
import type { Metric } from '../analysis/model-bias';
import type { SliceStatus, SliceResult } from '../storage/stored-shapes';
export type { SliceStatus, SliceResult } from '../storage/stored-shapes';

export type CategoricalField = 'label' | 'predicted' | 'split' | 'provenance';
export type OrderOp = 'lt' | 'lte' | 'gt' | 'gte';
export type SliceOp = 'eq' | 'neq' | 'in' | OrderOp;

export type Condition =
  | { field: CategoricalField; op: 'eq' | 'neq'; value: string }
  | { field: CategoricalField; op: 'in'; values: string[] }
  | { field: 'attr'; name: string; op: 'eq' | 'neq'; value: string }
  | { field: 'attr'; name: string; op: 'in'; values: string[] }
  /** Compares the attribute as a number (an `age` column); a non-numeric value matches nothing. */
  | { field: 'attr'; name: string; op: OrderOp; value: number }
  | { field: 'stat'; name: ImageStatName; op: 'eq' | 'neq' | OrderOp; value: number }
  | { field: 'stat'; name: ImageStatName; op: 'in'; values: number[] };

export type SlicePredicate = Condition | { all: SlicePredicate[] } | { any: SlicePredicate[] } | { not: SlicePredicate };

export interface Slice {
  id: string;
  name: string;
  predicate: SlicePredicate;
  /** The slice passes when accuracy ≥ minAccuracy; in 0..1. */
  minAccuracy: number;
}

export interface SliceSample {
  /** True class name; null = unlabeled (cannot be scored, counted apart). */
  label: string | null;
  /** Predicted class name; null = no prediction (scored as wrong). */
  predicted: string | null;
  split: Split;
  provenance: ProvenanceKind;
  attributes: Readonly<Record<string, string>>;
  /** From `computeImageStats`; absent when not computed (stat conditions then match nothing). */
  stats?: Readonly<Partial<Record<ImageStatName, number | undefined>>>;
}

/** A slice definition that cannot be used; `errors` says where and why. */
export class InvalidSliceError extends HearthError {
  readonly errors: SliceValidationError[];
  constructor(errors: SliceValidationError[]) {
    super(
      `The slice definition is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}. Fix it and save again.`,
      'InvalidSliceError',
    );
    this.errors = errors;
  }
}

// ---------------------------------------------------------------------------------------
// Evaluation

function isNode<K extends 'all' | 'any' | 'not'>(p: SlicePredicate, key: K): p is Extract<SlicePredicate, Record<K, unknown>> {
  return key in p;
}

function compareOrder(x: number, op: OrderOp, v: number): boolean {
  switch (op) {
    case 'lt':
      return x < v;
    case 'lte':
      return x <= v;
    case 'gt':
      return x > v;
    case 'gte':
      return x >= v;
  }
}

/** An attribute read as a number; '' and text are not numbers (Number('') would be 0). */
function numeric(s: string): number | undefined {
  if (s.trim() === '') return undefined;
  const x = Number(s);
  return Number.isFinite(x) ? x : undefined;
}

function categorical(s: SliceSample, field: CategoricalField): string | null {
  switch (field) {
    case 'label':
      return s.label;
    case 'predicted':
      return s.predicted;
    case 'split':
      return s.split;
    case 'provenance':
      return s.provenance;
  }
}

function matchesCondition(c: Condition, s: SliceSample): boolean {
  if (c.field === 'stat') {
    const x = s.stats?.[c.name];
    if (x === undefined || Number.isNaN(x)) return false;
    if (c.op === 'in') return c.values.includes(x);
    if (c.op === 'eq') return x === c.value;
    if (c.op === 'neq') return x !== c.value;
    return compareOrder(x, c.op, c.value);
  }
  if (c.field === 'attr') {
    const raw = s.attributes[c.name];
    if (raw === undefined) return false;
    if (c.op === 'in') return c.values.includes(raw);
    if (c.op === 'eq' || c.op === 'neq') return (raw === c.value) === (c.op === 'eq');
    const x = numeric(raw);
    return x !== undefined && typeof c.value === 'number' && compareOrder(x, c.op, c.value);
  }
  const v = categorical(s, c.field);
  if (v === null) return false;
  if (c.op === 'in') return c.values.includes(v);
  return c.op === 'eq' ? v === c.value : v !== c.value;
}

/** Whether the predicate selects the sample. Assumes a validated predicate. */
export function matches(p: SlicePredicate, s: SliceSample): boolean {
  if (isNode(p, 'all')) return p.all.every((q) => matches(q, s));
  if (isNode(p, 'any')) return p.any.some((q) => matches(q, s));
  if (isNode(p, 'not')) return !matches(p.not, s);
  return matchesCondition(p, s);
}

/** The image statistics a predicate reads. */
export function statsUsed(p: SlicePredicate, into = new Set<ImageStatName>()): Set<ImageStatName> {
  if (isNode(p, 'all')) for (const q of p.all) statsUsed(q, into);
  else if (isNode(p, 'any')) for (const q of p.any) statsUsed(q, into);
  else if (isNode(p, 'not')) statsUsed(p.not, into);
  else if (p.field === 'stat') into.add(p.name);
  return into;
}

/** Runs every slice over the samples. Validate stored JSON with `validateSlices` first. */
export function evaluateSlices(slices: readonly Slice[], samples: readonly SliceSample[]): SliceResult[] {
  return slices.map((slice) => {
    const stats = [...statsUsed(slice.predicate)];
    let n = 0;
    let correct = 0;
    let unlabeled = 0;
    let missingStats = 0;
    for (const s of samples) {
      if (stats.some((name) => s.stats?.[name] === undefined)) missingStats++;
      if (!matches(slice.predicate, s)) continue;
      if (s.label === null) {
        unlabeled++;
        continue;
      }
      n++;
      if (s.predicted === s.label) correct++;
    }
    let accuracy: Metric;
    if (n > 0) {
      accuracy = { value: correct / n };
    } else {
      let reason = unlabeled > 0 ? `no labeled sample matches this slice (${unlabeled} unlabeled do)` : 'no sample matches this slice';
      if (missingStats > 0) reason += `; ${missingStats} samples have no value for ${stats.join(', ')}, and a missing value matches nothing`;
      accuracy = { value: undefined, reason };
    }
    const status: SliceStatus = accuracy.value === undefined ? 'undefined' : accuracy.value >= slice.minAccuracy ? 'pass' : 'fail';
    return { sliceId: slice.id, name: slice.name, n, correct, accuracy, minAccuracy: slice.minAccuracy, status, unlabeled, missingStats };
  });
}

// ---------------------------------------------------------------------------------------
// Validation

export interface SliceValidationError {
  /** Where, e.g. `slices[2].predicate.all[1].op`. */
  path: string;
  message: string;
}

export type SliceValidation = { ok: true; slices: Slice[] } | { ok: false; errors: SliceValidationError[] };
export type PredicateValidation = { ok: true; predicate: SlicePredicate } | { ok: false; errors: SliceValidationError[] };

const FIELDS = ['label', 'predicted', 'split', 'provenance', 'attr', 'stat'] as const;
const OPS: readonly SliceOp[] = ['eq', 'neq', 'in', 'lt', 'lte', 'gt', 'gte'];
const ORDER_OPS: readonly string[] = ['lt', 'lte', 'gt', 'gte'];
const COMBINATORS = ['all', 'any', 'not'] as const;

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const list = (xs: readonly string[]): string => xs.join(', ');

function checkPredicate(x: unknown, path: string, errors: SliceValidationError[]): void {
  const err = (p: string, message: string): void => void errors.push({ path: p, message });
  if (!isRecord(x)) {
    err(path, `expected an object (a condition with "field", or one of ${list(COMBINATORS)})`);
    return;
  }
  const keys = Object.keys(x);
  const combinators = COMBINATORS.filter((k) => k in x);
  if (combinators.length > 0) {
    if (keys.length !== 1) {
      err(path, `a combinator node has exactly one key; found ${list(keys)}`);
      return;
    }
    const k = combinators[0] as (typeof COMBINATORS)[number];
    const inner = x[k];
    if (k === 'not') {
      checkPredicate(inner, `${path}.not`, errors);
      return;
    }
    if (!Array.isArray(inner)) {
      err(`${path}.${k}`, 'expected an array of predicates');
      return;
    }
    // An empty "all" is the whole dataset (a fair baseline slice); an empty "any" selects nothing.
    if (k === 'any' && inner.length === 0) err(`${path}.any`, 'an empty "any" matches no sample; add a condition');
    inner.forEach((q, i) => checkPredicate(q, `${path}.${k}[${i}]`, errors));
    return;
  }
  if (!('field' in x)) {
    err(path, `missing "field" (one of ${list(FIELDS)}), or a combinator (${list(COMBINATORS)})`);
    return;
  }
  const field = x.field;
  if (typeof field !== 'string' || !(FIELDS as readonly string[]).includes(field)) {
    err(`${path}.field`, `unknown field ${JSON.stringify(field)}; use one of ${list(FIELDS)}`);
    return;
  }
  const allowedKeys = ['field', 'op', field === 'attr' || field === 'stat' ? 'name' : '', x.op === 'in' ? 'values' : 'value'];
  for (const k of keys) if (!allowedKeys.includes(k)) err(`${path}.${k}`, `unexpected key for a "${field}" condition with op ${JSON.stringify(x.op)}`);

  if (field === 'attr' && (typeof x.name !== 'string' || x.name === '')) err(`${path}.name`, 'missing attribute name');
  if (field === 'stat' && (typeof x.name !== 'string' || !(IMAGE_STAT_NAMES as readonly string[]).includes(x.name))) {
    err(`${path}.name`, `unknown image statistic ${JSON.stringify(x.name)}; use one of ${list(IMAGE_STAT_NAMES)}`);
  }
  const op = x.op;
  if (typeof op !== 'string' || !(OPS as readonly string[]).includes(op)) {
    err(`${path}.op`, op === undefined ? `missing "op" (one of ${list(OPS)})` : `unknown op ${JSON.stringify(op)}; use one of ${list(OPS)}`);
    return;
  }
  const ordered = ORDER_OPS.includes(op);
  if (ordered && field !== 'attr' && field !== 'stat') {
    err(`${path}.op`, `"${op}" compares numbers; a ${field} can only be compared with eq, neq or in`);
    return;
  }
  // Which JSON type the value(s) must have: stats are numbers; attributes are strings,
  // read as numbers only under an ordering op.
  const wantNumber = field === 'stat' || ordered;
  const okValue = (v: unknown): boolean => (wantNumber ? typeof v === 'number' && Number.isFinite(v) : typeof v === 'string');
  const kind = wantNumber ? 'a finite number' : 'a string';
  const enumValues = field === 'split' ? SPLITS : field === 'provenance' ? PROVENANCE_KINDS : null;
  const checkEnum = (v: unknown, p: string): void => {
    if (enumValues && typeof v === 'string' && !enumValues.includes(v as never)) err(p, `unknown ${field} ${JSON.stringify(v)}; use one of ${list(enumValues)}`);
  };
  if (op === 'in') {
    if (!('values' in x)) err(`${path}.values`, 'missing "values" (an array) for op "in"');
    else if (!Array.isArray(x.values) || x.values.length === 0) err(`${path}.values`, 'expected a non-empty array');
    else {
      x.values.forEach((v: unknown, i: number) => {
        if (!okValue(v)) err(`${path}.values[${i}]`, `expected ${kind}`);
        else checkEnum(v, `${path}.values[${i}]`);
      });
    }
  } else if (!('value' in x)) {
    err(`${path}.value`, `missing "value" for op "${op}"`);
  } else if (!okValue(x.value)) {
    err(`${path}.value`, `expected ${kind}${field === 'label' || field === 'predicted' ? ' (a class name, e.g. "8")' : ''}`);
  } else {
    checkEnum(x.value, `${path}.value`);
  }
}

/** Checks one predicate read from JSON. */
export function validatePredicate(json: unknown, path = 'predicate'): PredicateValidation {
  const errors: SliceValidationError[] = [];
  checkPredicate(json, path, errors);
  return errors.length === 0 ? { ok: true, predicate: json as SlicePredicate } : { ok: false, errors };
}

/** Checks a list of slices read from JSON: shape, predicates, accuracy range, unique ids. */
export function validateSlices(json: unknown): SliceValidation {
  const errors: SliceValidationError[] = [];
  if (!Array.isArray(json)) return { ok: false, errors: [{ path: 'slices', message: 'expected an array of slices' }] };
  const ids = new Set<string>();
  json.forEach((s: unknown, i: number) => {
    const path = `slices[${i}]`;
    if (!isRecord(s)) {
      errors.push({ path, message: 'expected an object with id, name, predicate, minAccuracy' });
      return;
    }
    for (const k of Object.keys(s)) {
      if (!['id', 'name', 'predicate', 'minAccuracy'].includes(k)) errors.push({ path: `${path}.${k}`, message: 'unexpected key' });
    }
    if (typeof s.id !== 'string' || s.id === '') errors.push({ path: `${path}.id`, message: 'missing id (a non-empty string)' });
    else if (ids.has(s.id)) errors.push({ path: `${path}.id`, message: `duplicate id ${JSON.stringify(s.id)}` });
    else ids.add(s.id);
    if (typeof s.name !== 'string' || s.name.trim() === '') errors.push({ path: `${path}.name`, message: 'missing name (a non-empty string)' });
    const m = s.minAccuracy;
    if (typeof m !== 'number' || !(m >= 0 && m <= 1)) {
      errors.push({ path: `${path}.minAccuracy`, message: 'expected a number from 0 to 1 (0.9 = 90 %)' });
    }
    if (!('predicate' in s)) errors.push({ path: `${path}.predicate`, message: 'missing predicate' });
    else checkPredicate(s.predicate, `${path}.predicate`, errors);
  });
  return errors.length === 0 ? { ok: true, slices: json as Slice[] } : { ok: false, errors };
}

/** `validateSlices`, throwing InvalidSliceError with every problem when the JSON is not usable. */
export function parseSlicesJson(json: unknown): Slice[] {
  const v = validateSlices(json);
  if (!v.ok) throw new InvalidSliceError(v.errors);
  return v.slices;
}

// ---------------------------------------------------------------------------------------
// Text form:  expr := or;  or := and ("or" and)*;  and := unary ("and" unary)*;
// unary := "not" unary | "(" expr ")" | name op value | name "in" "(" value ("," value)* ")"
// name: label, predicted, split, provenance, an image statistic, `attr.X` / `stat.X`, or any
// other word (an attribute). Values: numbers, bare words, or "quoted strings".

type Token = { kind: 'word' | 'string' | 'number' | 'op' | 'punct'; text: string; at: number };

const TEXT_OPS: Record<string, Exclude<SliceOp, 'in'>> = { '=': 'eq', '==': 'eq', '!=': 'neq', '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte' };
const OP_TEXT: Record<Exclude<SliceOp, 'in'>, string> = { eq: '=', neq: '!=', lt: '<', lte: '<=', gt: '>', gte: '>=' };

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)(?![\w.])|("(?:[^"\\]|\\.)*")|([A-Za-z_][\w.-]*)|(==|!=|<=|>=|=|<|>)|([(),]))/giy;
  let at = 0;
  while (at < src.length) {
    if (/^\s*$/.test(src.slice(at))) break;
    re.lastIndex = at;
    const m = re.exec(src);
    if (!m) throw new InvalidSliceError([{ path: `text:${at + 1}`, message: `cannot read ${JSON.stringify(src.slice(at).trim().slice(0, 12))}` }]);
    const start = at + (m[0].length - m[0].trimStart().length);
    if (m[1] !== undefined) tokens.push({ kind: 'number', text: m[1], at: start });
    else if (m[2] !== undefined) tokens.push({ kind: 'string', text: JSON.parse(m[2]) as string, at: start });
    else if (m[3] !== undefined) tokens.push({ kind: 'word', text: m[3], at: start });
    else if (m[4] !== undefined) tokens.push({ kind: 'op', text: m[4], at: start });
    else tokens.push({ kind: 'punct', text: m[5] as string, at: start });
    at = re.lastIndex;
  }
  return tokens;
}

/**
 * Parses the readable form, e.g. `label = 8 and (color in (red, "dark red") or brightness < 0.25)`,
 * into a validated predicate. Throws InvalidSliceError naming the column (`text:N`) of the problem.
 */
export function parsePredicate(src: string): SlicePredicate {
  const tokens = tokenize(src);
  let i = 0;
  const fail = (message: string, t: Token | undefined = tokens[i]): never => {
    throw new InvalidSliceError([{ path: `text:${t ? t.at + 1 : src.length + 1}`, message }]);
  };
  const isWord = (t: Token | undefined, w: string): boolean => t?.kind === 'word' && t.text.toLowerCase() === w;
  const isPunct = (t: Token | undefined, p: string): boolean => t?.kind === 'punct' && t.text === p;

  const parseOr = (): SlicePredicate => {
    const parts = [parseAnd()];
    while (isWord(tokens[i], 'or')) {
      i++;
      parts.push(parseAnd());
    }
    return parts.length === 1 ? (parts[0] as SlicePredicate) : { any: parts };
  };
  const parseAnd = (): SlicePredicate => {
    const parts = [parseUnary()];
    while (isWord(tokens[i], 'and')) {
      i++;
      parts.push(parseUnary());
    }
    return parts.length === 1 ? (parts[0] as SlicePredicate) : { all: parts };
  };
  const parseUnary = (): SlicePredicate => {
    if (isWord(tokens[i], 'not')) {
      i++;
      return { not: parseUnary() };
    }
    if (isPunct(tokens[i], '(')) {
      i++;
      const inner = parseOr();
      if (!isPunct(tokens[i], ')')) fail('expected ")"');
      i++;
      return inner;
    }
    // `true` alone is the empty "all": every sample (what formatPredicate prints for it).
    if (isWord(tokens[i], 'true') && tokens[i + 1]?.kind !== 'op' && !isWord(tokens[i + 1], 'in')) {
      i++;
      return { all: [] };
    }
    return parseCondition();
  };
  const parseValue = (): Token => {
    const t = tokens[i];
    if (!t || (t.kind !== 'word' && t.kind !== 'string' && t.kind !== 'number')) return fail('expected a value');
    i++;
    return t;
  };
  const parseCondition = (): SlicePredicate => {
    const nameTok = tokens[i];
    if (!nameTok || (nameTok.kind !== 'word' && nameTok.kind !== 'string')) return fail('expected a field name (label, split, an attribute…)');
    i++;
    const opTok = tokens[i];
    let op: SliceOp;
    if (isWord(opTok, 'in')) op = 'in';
    else if (opTok?.kind === 'op') op = TEXT_OPS[opTok.text] as Exclude<SliceOp, 'in'>;
    else return fail('expected an operator (=, !=, <, <=, >, >=, in)');
    i++;
    const values: Token[] = [];
    if (op === 'in') {
      if (!isPunct(tokens[i], '(')) fail('expected "(" after in');
      i++;
      values.push(parseValue());
      while (isPunct(tokens[i], ',')) {
        i++;
        values.push(parseValue());
      }
      if (!isPunct(tokens[i], ')')) fail('expected "," or ")"');
      i++;
    } else {
      values.push(parseValue());
    }
    const name = nameTok.text;
    let field: Condition['field'];
    let attrOrStat: string | undefined;
    // A quoted name is always an attribute: that is how names with spaces are written.
    if (nameTok.kind === 'string') [field, attrOrStat] = ['attr', name];
    else if (name.startsWith('attr.')) [field, attrOrStat] = ['attr', name.slice(5)];
    else if (name.startsWith('stat.')) [field, attrOrStat] = ['stat', name.slice(5)];
    else if ((IMAGE_STAT_NAMES as readonly string[]).includes(name)) [field, attrOrStat] = ['stat', name];
    else if (['label', 'predicted', 'split', 'provenance'].includes(name)) field = name as CategoricalField;
    else [field, attrOrStat] = ['attr', name];
    const wantNumber = field === 'stat' || ORDER_OPS.includes(op);
    const conv = (t: Token): string | number => {
      if (!wantNumber) return t.text;
      if (t.kind !== 'number') return fail(`expected a number for ${name} ${op === 'in' ? 'in' : OP_TEXT[op]}`, t);
      return Number(t.text);
    };
    const cond: Record<string, unknown> = { field };
    if (attrOrStat !== undefined) cond.name = attrOrStat;
    cond.op = op;
    if (op === 'in') cond.values = values.map(conv);
    else cond.value = conv(values[0] as Token);
    return cond as unknown as SlicePredicate;
  };

  if (tokens.length === 0) fail('the condition is empty');
  const predicate = parseOr();
  if (i < tokens.length) fail(`unexpected ${JSON.stringify(tokens[i]?.text)}`);
  const v = validatePredicate(predicate, 'text');
  if (!v.ok) throw new InvalidSliceError(v.errors);
  return v.predicate;
}

const WORD_RE = /^[A-Za-z_][\w.-]*$/;
const NUMBER_RE = /^-?\d+(?:\.\d+)?(?:e[+-]?\d+)?$/i;
const KEYWORDS: readonly string[] = ['and', 'or', 'not', 'in', 'true'];

/** Bare when the tokenizer reads it back as the same text (`8`, `red`), quoted otherwise. */
function formatValue(v: string | number): string {
  if (typeof v === 'number') return String(v);
  const bare = NUMBER_RE.test(v) || (WORD_RE.test(v) && !KEYWORDS.includes(v.toLowerCase()));
  return bare ? v : JSON.stringify(v);
}

/** The readable form of a predicate; `parsePredicate(formatPredicate(p))` gives p back. */
export function formatPredicate(p: SlicePredicate): string {
  const wrap = (q: SlicePredicate): string => (isNode(q, 'all') || isNode(q, 'any') ? `(${formatPredicate(q)})` : formatPredicate(q));
  if (isNode(p, 'all')) return p.all.length === 0 ? 'true' : p.all.map(wrap).join(' and ');
  if (isNode(p, 'any')) return p.any.map(wrap).join(' or ');
  if (isNode(p, 'not')) return `not ${wrap(p.not)}`;
  let name: string;
  if (p.field === 'attr') {
    const reserved = KEYWORDS.includes(p.name.toLowerCase()) || ['label', 'predicted', 'split', 'provenance', ...IMAGE_STAT_NAMES].includes(p.name);
    if (!WORD_RE.test(p.name)) name = JSON.stringify(p.name);
    else name = reserved || p.name.startsWith('attr.') || p.name.startsWith('stat.') ? `attr.${p.name}` : p.name;
  } else if (p.field === 'stat') name = p.name;
  else name = p.field;
  if (p.op === 'in') return `${name} in (${(p.values as (string | number)[]).map(formatValue).join(', ')})`;
  return `${name} ${OP_TEXT[p.op]} ${formatValue(p.value)}`;
}
