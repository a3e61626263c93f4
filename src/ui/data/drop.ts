/**
 * Turning a drop or a file picker into `{path, file}` pairs with paths relative to what
 * the user picked (`train/cat/001.png`), which is what the importer reads labels and
 * splits from.
 */

export interface PickedFile {
  path: string;
  file: File;
}

/** Files from `<input type=file>`; a folder picker fills `webkitRelativePath`. */
export function filesFromInput(list: FileList | null): PickedFile[] {
  if (!list) return [];
  return [...list].map((file) => ({ path: file.webkitRelativePath || file.name, file }));
}

/**
 * Files from a drop, walking dropped folders recursively. The entries must be taken
 * from the DataTransfer synchronously, inside the drop handler: the browser empties
 * `items` as soon as the handler yields to the event loop.
 */
export async function filesFromDrop(dt: DataTransfer): Promise<PickedFile[]> {
  const entries: FileSystemEntry[] = [];
  const loose: File[] = [];
  for (const item of [...dt.items]) {
    if (item.kind !== 'file') continue;
    const entry = item.webkitGetAsEntry();
    if (entry) entries.push(entry);
    else {
      const file = item.getAsFile();
      if (file) loose.push(file);
    }
  }
  const out: PickedFile[] = loose.map((file) => ({ path: file.name, file }));
  for (const entry of entries) await walk(entry, '', out);
  return out;
}

async function walk(entry: FileSystemEntry, prefix: string, out: PickedFile[]): Promise<void> {
  const path = prefix ? `${prefix}/${entry.name}` : entry.name;
  if (isFile(entry)) {
    out.push({ path, file: await fileOf(entry) });
  } else if (isDirectory(entry)) {
    for (const child of await readAll(entry)) await walk(child, path, out);
  }
}

function isFile(entry: FileSystemEntry): entry is FileSystemFileEntry {
  return entry.isFile;
}

function isDirectory(entry: FileSystemEntry): entry is FileSystemDirectoryEntry {
  return entry.isDirectory;
}

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

/** readEntries returns at most 100 entries per call (Chromium); keep calling until it returns none. */
async function readAll(dir: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = dir.createReader();
  const all: FileSystemEntry[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}
