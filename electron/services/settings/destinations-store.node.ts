/**
 * PACS destinations, kept in the app's settings (not in a project: the same hospital PACS
 * serves every project). A JSON file in the app's config folder, written atomically and
 * readable by the user only (0600), since it may hold a DICOMweb password or token.
 * Runtime: node.
 *
 * An operating system keychain (Electron's safeStorage) would be better for the secrets; the
 * services run without Electron too (the browser host, the headless node), so the file is
 * the one store both can use today.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ApiError } from '../../contract/api.js';
import { DestinationInput, type Destination } from '../../contract/pacs.js';
import type { PacsDestination } from '../dicom-export/pacs.node.js';

type Stored = DestinationInput & { id: string };

export const DESTINATIONS_FILE = 'destinations.json';

/** The app's config folder: DELINEATE_CONFIG_DIR, else $XDG_CONFIG_HOME/delineate, else ~/.config/delineate. */
export function defaultConfigDir(): string {
  return process.env.DELINEATE_CONFIG_DIR || path.join(process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'delineate');
}

export class DestinationsStore {
  constructor(private readonly dir: string) {}

  private file(): string {
    return path.join(this.dir, DESTINATIONS_FILE);
  }

  /**
   * Every stored destination, each checked against the schema. Only a missing file is an
   * empty list: an unreadable or damaged one is an error, so a save never writes over
   * destinations it could not read.
   */
  private all(): Stored[] {
    let text: string;
    try {
      text = readFileSync(this.file(), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new ApiError('io', `The PACS destinations cannot be read (${(e as Error).message})`, this.file());
    }
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new ApiError('io', `The PACS destinations file is damaged (${(e as Error).message}); fix or remove it`, this.file());
    }
    if (!Array.isArray(v)) throw new ApiError('io', 'The PACS destinations file is damaged (not a list); fix or remove it', this.file());
    return v.map((x, i) => {
      const r = DestinationInput.safeParse(x);
      if (!r.success || !r.data.id) throw new ApiError('io', `The PACS destinations file is damaged (entry ${i + 1}: ${r.success ? 'no id' : r.error.issues[0]?.message}); fix or remove it`, this.file());
      return r.data as Stored;
    });
  }

  private write(list: Stored[]): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file()}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(list, null, 2), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file());
  }

  list(): Destination[] {
    return this.all().map(toPublic);
  }

  /** What the sender needs (secrets included), or null when it was removed. */
  connection(id: string): { name: string; destination: PacsDestination } | null {
    const d = this.all().find((x) => x.id === id);
    return d ? { name: d.name, destination: toPacs(d) } : null;
  }

  save(input: DestinationInput): Destination {
    const list = this.all();
    const old = input.id ? list.find((x) => x.id === input.id) : undefined;
    if (input.id && !old) throw new ApiError('not_found', `No PACS destination ${input.id}`);
    if (list.some((x) => x.name === input.name && x.id !== input.id)) throw new ApiError('conflict', `A destination named "${input.name}" exists already`);
    const stored = { ...input, id: old?.id ?? `${slug(input.name)}-${randomBytes(3).toString('hex')}` } as Stored;
    // A secret left out keeps the stored one (the list never shows it, so a form cannot resend it).
    if (stored.kind === 'dicomweb' && old?.kind === 'dicomweb') {
      if (stored.auth.kind === 'basic' && old.auth.kind === 'basic' && stored.auth.password === undefined) stored.auth = { ...stored.auth, password: old.auth.password };
      if (stored.auth.kind === 'bearer' && old.auth.kind === 'bearer' && stored.auth.token === undefined) stored.auth = { ...stored.auth, token: old.auth.token };
    }
    this.write([...list.filter((x) => x.id !== stored.id), stored]);
    return toPublic(stored);
  }

  delete(id: string): void {
    const list = this.all();
    if (!list.some((x) => x.id === id)) throw new ApiError('not_found', `No PACS destination ${id}`);
    this.write(list.filter((x) => x.id !== id));
  }
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 30) || 'pacs';

function toPublic(d: Stored): Destination {
  if (d.kind === 'dimse') return { id: d.id, name: d.name, kind: 'dimse', aeTitle: d.aeTitle, host: d.host, port: d.port, callingAeTitle: d.callingAeTitle, ...(d.tls ? { tls: d.tls } : {}) };
  const a = d.auth;
  return {
    id: d.id,
    name: d.name,
    kind: 'dicomweb',
    baseUrl: d.baseUrl,
    auth: { kind: a.kind, ...(a.kind === 'basic' ? { user: a.user } : {}), hasSecret: a.kind === 'basic' ? !!a.password : a.kind === 'bearer' ? !!a.token : false },
  };
}

function toPacs(d: Stored): PacsDestination {
  if (d.kind === 'dimse') return { kind: 'dimse', aeTitle: d.aeTitle, host: d.host, port: d.port, callingAeTitle: d.callingAeTitle, ...(d.tls ? { tls: d.tls } : {}) };
  const a = d.auth;
  return {
    kind: 'dicomweb',
    baseUrl: d.baseUrl,
    auth: a.kind === 'basic' ? { kind: 'basic', user: a.user, password: a.password ?? '' } : a.kind === 'bearer' ? { kind: 'bearer', token: a.token ?? '' } : { kind: 'none' },
  };
}
