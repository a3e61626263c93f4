/**
 * What a dropped folder means, from its relative paths alone: the ImageFolder layout
 * (`[split/]<class>/<image>`) that torchvision and Keras read. Paths come from
 * `webkitRelativePath` or a drop's directory walk, so they may start with the dropped
 * folder's own name, use `\` on Windows, and spell accented names decomposed (NFD, as
 * macOS file systems hand them over).
 */
import type { Split } from '../../storage/records';

/** Extensions imported as images, lower case; matching is case-insensitive (`.JPG`). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.gif', '.bmp', '.webp'];
const CSV_EXTENSION = '.csv';

/** Top-level folder names that set the split, lower case. */
const SPLIT_FOLDERS: ReadonlyMap<string, Split> = new Map<string, Split>([
  ['train', 'train'],
  ['val', 'val'],
  ['valid', 'val'],
  ['validation', 'val'],
  ['test', 'test'],
]);

/** Files operating systems leave in folders; importing them would only produce errors. */
const SYSTEM_FILES: ReadonlySet<string> = new Set(['thumbs.db', 'desktop.ini', 'ehthumbs.db']);
/** Folder of resource forks that macOS's zip tool adds; every file in it is junk. */
const MACOS_ZIP_FOLDER = '__MACOSX';

export type DroppedEntry =
  | { kind: 'image'; key: string; fileName: string; label: string | null; split: Split }
  | { kind: 'csv'; key: string; fileName: string }
  | { kind: 'ignored'; key: string; reason: string };

/** Interprets relative paths of a dropped folder / picked files as an ImageFolder. */
export function classifyPaths(paths: string[]): DroppedEntry[] {
  const split = paths.map(toSegments);
  const strip = sharedRootFolder(split.filter((segments) => junkReason(segments) === null));
  const seen = new Set<string>();
  return split.map((segments): DroppedEntry => {
    const rel = strip !== null && segments.length > 1 && segments[0] === strip ? segments.slice(1) : segments;
    const key = rel.join('/');
    const entry = classifyOne(rel, key);
    if (entry.kind === 'ignored') return entry;
    // Two spellings of one name (NFD and NFC) from the same drop would collide on the key.
    if (seen.has(key)) return { kind: 'ignored', key, reason: 'the same path appears twice in the drop' };
    seen.add(key);
    return entry;
  });
}

function classifyOne(segments: string[], key: string): DroppedEntry {
  const fileName = segments[segments.length - 1];
  if (fileName === undefined) return { kind: 'ignored', key, reason: 'the path is empty' };
  const junk = junkReason(segments);
  if (junk !== null) return { kind: 'ignored', key, reason: junk };
  const ext = extensionOf(fileName);
  if (ext === CSV_EXTENSION) return { kind: 'csv', key, fileName };
  if (!IMAGE_EXTENSIONS.includes(ext)) {
    const what = ext === '' ? 'it has no file extension' : `"${ext}" files are not imported`;
    return { kind: 'ignored', key, reason: `${what}; Hearth imports ${IMAGE_EXTENSIONS.join(' ')} images and .csv label files` };
  }
  const folders = segments.slice(0, -1);
  const splitFolder = folders[0] === undefined ? undefined : SPLIT_FOLDERS.get(folders[0].toLowerCase());
  const classFolders = splitFolder === undefined ? folders : folders.slice(1);
  // Deeper nesting (train/cat/sub/1.png) keeps the first folder as the class: sub-folders
  // are how people sort one class further, not new classes.
  return { kind: 'image', key, fileName, label: classFolders[0] ?? null, split: splitFolder ?? 'unassigned' };
}

/** Why a path is operating-system clutter, or null when it is a real file. */
function junkReason(segments: string[]): string | null {
  const fileName = segments[segments.length - 1] ?? '';
  if (segments.includes(MACOS_ZIP_FOLDER)) return `files in ${MACOS_ZIP_FOLDER} are macOS metadata, not images`;
  if (segments.some((s) => s.startsWith('.'))) return 'hidden files and folders (names starting with ".") are skipped';
  if (SYSTEM_FILES.has(fileName.toLowerCase())) return `${fileName} is a Windows system file, not an image`;
  return null;
}

/** `\`-or-`/`-separated path → NFC segments, without empty and `.` segments. */
function toSegments(path: string): string[] {
  return path
    .normalize('NFC')
    .split(/[\\/]/)
    .filter((s) => s !== '' && s !== '.');
}

/**
 * The dropped folder's own name when every path sits under one top folder that is not
 * a split folder; stripping it makes keys independent of what the user called the folder.
 */
function sharedRootFolder(paths: string[][]): string | null {
  const first = paths[0]?.[0];
  if (first === undefined || SPLIT_FOLDERS.has(first.toLowerCase())) return null;
  return paths.every((segments) => segments.length > 1 && segments[0] === first) ? first : null;
}

/** Lower-case extension with its dot (`.jpg`), or '' when the name has none. */
function extensionOf(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  return dot <= 0 ? '' : fileName.slice(dot).toLowerCase();
}
