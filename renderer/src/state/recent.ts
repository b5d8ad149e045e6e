/**
 * Recently opened projects, kept in this browser profile's localStorage (paths only; the
 * project itself is the folder).
 *
 * Runtime: browser (localStorage).
 */
const KEY = 'delineate.recentProjects';
const MAX = 6;

export interface RecentProject {
  path: string;
  name: string;
}

export function recentProjects(): RecentProject[] {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? '[]') as unknown;
    return Array.isArray(v) ? v.filter((r): r is RecentProject => typeof r?.path === 'string' && typeof r?.name === 'string').slice(0, MAX) : [];
  } catch {
    return [];
  }
}

export function rememberProject(p: RecentProject): void {
  try {
    const list = [p, ...recentProjects().filter((r) => r.path !== p.path)].slice(0, MAX);
    localStorage.setItem(KEY, JSON.stringify(list));
  } catch {
    /* storage unavailable: no recent list */
  }
}
