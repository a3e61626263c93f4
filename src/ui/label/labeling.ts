/**
 * The open round as the user labels it: answers, the image shown, and what undo can take
 * back. Pure and immutable (every action returns a new draft), so the rune state only
 * swaps one value and the rules are tested in Node.
 */
import type { LabelRound } from '../../lib/select/types';

/** What the user said about one picked image. */
export type Answer = { kind: 'label'; cls: number } | { kind: 'skip' } | { kind: 'none' };

/** One labeling action, with what it replaced so undo can put that back. */
export interface DraftStep {
  id: number;
  /** Position in `picks` the action was taken at; undo shows that image again. */
  index: number;
  before: Answer;
}

export interface RoundDraft {
  round: number;
  /** Sample ids, in the order shown. */
  picks: readonly number[];
  /** Sample id → class index. */
  labels: Readonly<Record<number, number>>;
  skipped: readonly number[];
  /** Position in `picks` of the image shown. */
  cursor: number;
  /** Actions since the round was opened on this page, oldest first. */
  history: readonly DraftStep[];
}

export interface DraftCounts {
  labelled: number;
  skipped: number;
  left: number;
}

const NONE: Answer = { kind: 'none' };

/** A draft for a stored round, showing the first image without an answer (a reload goes on where it stopped). */
export function draftFromRound(round: Pick<LabelRound, 'round' | 'picks' | 'labels' | 'skipped'>): RoundDraft {
  const draft: RoundDraft = {
    round: round.round,
    picks: [...round.picks],
    labels: { ...round.labels },
    skipped: [...round.skipped],
    cursor: 0,
    history: [],
  };
  const first = draft.picks.findIndex((id) => answerOf(draft, id).kind === 'none');
  return { ...draft, cursor: Math.max(0, first) };
}

export function answerOf(draft: Pick<RoundDraft, 'labels' | 'skipped'>, id: number): Answer {
  const cls = draft.labels[id];
  if (cls !== undefined) return { kind: 'label', cls };
  return draft.skipped.includes(id) ? { kind: 'skip' } : NONE;
}

/** The sample id shown, or undefined for an empty round. */
export function currentId(draft: RoundDraft): number | undefined {
  return draft.picks[draft.cursor];
}

function clampIndex(draft: RoundDraft, index: number): number {
  return Math.min(Math.max(0, index), Math.max(0, draft.picks.length - 1));
}

function withAnswer(draft: RoundDraft, id: number, answer: Answer): Pick<RoundDraft, 'labels' | 'skipped'> {
  const labels = { ...draft.labels };
  delete labels[id];
  const skipped = draft.skipped.filter((s) => s !== id);
  if (answer.kind === 'label') labels[id] = answer.cls;
  else if (answer.kind === 'skip') skipped.push(id);
  return { labels, skipped };
}

/** Answers the image shown and moves to the next one (staying on the last). */
function answer(draft: RoundDraft, next: Answer): RoundDraft {
  const id = currentId(draft);
  if (id === undefined) return draft;
  const step: DraftStep = { id, index: draft.cursor, before: answerOf(draft, id) };
  return {
    ...draft,
    ...withAnswer(draft, id, next),
    cursor: clampIndex(draft, draft.cursor + 1),
    history: [...draft.history, step],
  };
}

export function labelCurrent(draft: RoundDraft, cls: number): RoundDraft {
  if (!Number.isInteger(cls) || cls < 0) return draft;
  return answer(draft, { kind: 'label', cls });
}

export function skipCurrent(draft: RoundDraft): RoundDraft {
  return answer(draft, { kind: 'skip' });
}

/** Takes back the last label or skip and shows that image again; moves are not actions. */
export function undo(draft: RoundDraft): RoundDraft {
  const step = draft.history.at(-1);
  if (!step) return draft;
  return {
    ...draft,
    ...withAnswer(draft, step.id, step.before),
    cursor: clampIndex(draft, step.index),
    history: draft.history.slice(0, -1),
  };
}

export function moveCursor(draft: RoundDraft, delta: number): RoundDraft {
  return goTo(draft, draft.cursor + delta);
}

export function goTo(draft: RoundDraft, index: number): RoundDraft {
  const cursor = clampIndex(draft, index);
  return cursor === draft.cursor ? draft : { ...draft, cursor };
}

export function draftCounts(draft: Pick<RoundDraft, 'picks' | 'labels' | 'skipped'>): DraftCounts {
  let labelled = 0;
  let skipped = 0;
  for (const id of draft.picks) {
    const a = answerOf(draft, id);
    if (a.kind === 'label') labelled++;
    else if (a.kind === 'skip') skipped++;
  }
  return { labelled, skipped, left: draft.picks.length - labelled - skipped };
}

/** "labelled 37, skipped 2, left 86". */
export function formatDraftCounts(c: DraftCounts): string {
  return `labelled ${c.labelled}, skipped ${c.skipped}, left ${c.left}`;
}

/** Up to ten classes each have one key. */
export const MAX_SINGLE_KEY_CLASSES = 10;

/**
 * Each class's key, or null when there are more classes than keys (type the index, then
 * Enter). Classes named by distinct single digits (MNIST's "0"…"9") take their own digit,
 * because pressing 3 for the class called "2" is a trap; any other set takes 1–9, then 0
 * for the tenth, by position.
 */
export function classHotkeys(classes: readonly string[]): string[] | null {
  if (classes.length > MAX_SINGLE_KEY_CLASSES) return null;
  const digitNamed = classes.every((name) => /^[0-9]$/.test(name)) && new Set(classes).size === classes.length;
  return classes.map((name, i) => (digitNamed ? name : String((i + 1) % MAX_SINGLE_KEY_CLASSES)));
}

/** The key that labels class `cls` at once, or null (more classes than keys, or no such class). */
export function hotkeyFor(cls: number, classes: readonly string[]): string | null {
  return classHotkeys(classes)?.[cls] ?? null;
}

export type KeyAction =
  | { kind: 'label'; cls: number }
  | { kind: 'skip' }
  | { kind: 'undo' }
  | { kind: 'move'; delta: number }
  /** The typed class index so far (more than ten classes), '' when cleared. */
  | { kind: 'typed'; typed: string }
  | { kind: 'none' };

/**
 * What a key does in the labeling view. With ten classes or fewer a digit labels at
 * once (classHotkeys); with more, digits build a class index that Enter confirms,
 * because "1" could be the start of "12". `typed` is that index so far.
 */
export function keyAction(key: string, classes: readonly string[], typed: string): KeyAction {
  const classCount = classes.length;
  const hotkeys = classHotkeys(classes);
  const many = hotkeys === null;
  if (/^[0-9]$/.test(key)) {
    if (hotkeys) {
      const cls = hotkeys.indexOf(key);
      return cls >= 0 ? { kind: 'label', cls } : { kind: 'none' };
    }
    // A digit that would run past the last class starts a new index instead ("9" then "3" of 12 classes is 3).
    const longer = typed + key;
    if (Number(longer) < classCount && !(typed === '0')) return { kind: 'typed', typed: longer };
    return Number(key) < classCount ? { kind: 'typed', typed: key } : { kind: 'none' };
  }
  if (many && typed !== '') {
    if (key === 'Enter') return { kind: 'label', cls: Number(typed) };
    if (key === 'Escape') return { kind: 'typed', typed: '' };
    // With an index half typed, Backspace corrects the index rather than undoing a label.
    if (key === 'Backspace') return { kind: 'typed', typed: typed.slice(0, -1) };
  }
  switch (key) {
    case 's':
    case 'S':
      return { kind: 'skip' };
    case 'u':
    case 'U':
    case 'Backspace':
      return { kind: 'undo' };
    case 'ArrowLeft':
      return { kind: 'move', delta: -1 };
    case 'ArrowRight':
      return { kind: 'move', delta: 1 };
    default:
      return { kind: 'none' };
  }
}

/** Keys typed into a form field belong to the field, not to the labeling shortcuts (App.svelte's rule). */
export function isTypingTarget(target: EventTarget | null): boolean {
  if (typeof HTMLElement === 'undefined' || !(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName);
}
