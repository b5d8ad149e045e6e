/**
 * Collects the files of a drag-and-drop, walking dropped folders recursively (Chromium's
 * FileSystemEntry API; the standard `files` list has no folder contents).
 *
 * Runtime: browser (DOM).
 */

export interface NamedFile {
  /** Relative path inside what was dropped, e.g. "CT/slice001.dcm" (reported in the import report). */
  name: string;
  file: File;
}

function readAllEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  // readEntries returns at most ~100 entries per call; keep reading until it returns none.
  return new Promise((resolve, reject) => {
    const out: FileSystemEntry[] = [];
    const next = () =>
      reader.readEntries((batch) => {
        if (batch.length === 0) resolve(out);
        else {
          out.push(...batch);
          next();
        }
      }, reject);
    next();
  });
}

async function walk(entry: FileSystemEntry, prefix: string, out: NamedFile[]): Promise<void> {
  const path = prefix ? `${prefix}/${entry.name}` : entry.name;
  if (entry.isFile) {
    const file = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
    out.push({ name: path, file });
  } else if (entry.isDirectory) {
    for (const child of await readAllEntries((entry as FileSystemDirectoryEntry).createReader())) await walk(child, path, out);
  }
}

export async function filesFromDrop(dt: DataTransfer): Promise<NamedFile[]> {
  const out: NamedFile[] = [];
  const entries = [...dt.items].map((i) => (i.kind === 'file' ? i.webkitGetAsEntry() : null));
  if (entries.some((e) => e !== null)) {
    for (const e of entries) if (e) await walk(e, '', out);
    return out;
  }
  for (const f of dt.files) out.push({ name: f.name, file: f });
  return out;
}

/** Files from an <input type=file> (with webkitdirectory the relative path is kept). */
export function filesFromInput(list: FileList | null): NamedFile[] {
  return [...(list ?? [])].map((f) => ({ name: f.webkitRelativePath || f.name, file: f }));
}
