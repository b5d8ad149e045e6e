/**
 * The browser host's API token, in the renderer. The first visit lands on `/#token=T`: the
 * token is moved into sessionStorage (scoped to this exact origin, port included, unlike
 * cookies) and removed from the address bar. Reloads read it back from sessionStorage.
 *
 * Runtime: renderer (pure given its arguments).
 */
const KEY = 'delineate.token';

export interface TokenPlace {
  location: { hash: string; pathname: string; search: string };
  storage: { getItem(k: string): string | null; setItem(k: string, v: string): void };
  history: { replaceState(data: unknown, unused: string, url: string): void };
}

export function takeSessionToken(p: TokenPlace): string | undefined {
  const match = /^#token=([^&]+)/.exec(p.location.hash);
  if (match) {
    const token = decodeURIComponent(match[1]!);
    p.storage.setItem(KEY, token);
    p.history.replaceState(null, '', `${p.location.pathname}${p.location.search}`);
    return token;
  }
  return p.storage.getItem(KEY) ?? undefined;
}
