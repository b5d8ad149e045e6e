/**
 * What crosses the API when a service fails in a way it did not foresee: an error code and a
 * sentence a user can act on. Raw Node and SQLite messages (errno names, absolute paths,
 * stack traces) stay in the log; they would tell an attacker about the machine and tell a
 * radiologist nothing. Runtime: pure.
 */
import { ApiError, type ErrorCode } from '../contract/api.js';

const ERRNO: Record<string, [ErrorCode, string]> = {
  ENOENT: ['io', 'A file or folder it needs is missing (moved or deleted outside Delineate?).'],
  ENOTDIR: ['io', 'A path that should be a folder is a file.'],
  EISDIR: ['io', 'A folder was found where a file was expected.'],
  EACCES: ['io', 'Permission denied: Delineate may not read or write there.'],
  EPERM: ['io', 'The operating system did not allow this operation.'],
  ENOSPC: ['io', 'The disk is full: free some space and try again.'],
  EDQUOT: ['io', 'The disk quota is used up: free some space and try again.'],
  EROFS: ['io', 'That place is on a read-only disk.'],
  EMFILE: ['io', 'Too many files are open; try again in a moment.'],
  ENAMETOOLONG: ['bad_request', 'A path is too long.'],
  ELOOP: ['bad_request', 'A path loops through symbolic links.'],
  EEXIST: ['conflict', 'Something with that name exists already.'],
  EBUSY: ['conflict', 'A file it needs is busy in another program.'],
  SQLITE_BUSY: ['conflict', 'The project is busy: another program is writing to it. Try again in a moment.'],
  SQLITE_FULL: ['io', 'The disk is full: the project could not save. Free some space and try again.'],
  SQLITE_CORRUPT: ['io', "The project's database is damaged."],
  SQLITE_READONLY: ['io', "The project's database cannot be written (read-only)."],
  SQLITE_CANTOPEN: ['io', "The project's database cannot be opened."],
};

/** The ApiError a user sees for `e`; ApiErrors pass through unchanged. */
export function plainApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const code = typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : '';
  const known = ERRNO[code] ?? ERRNO[code.replace(/_[A-Z]+$/, '')]; // SQLITE_BUSY_SNAPSHOT -> SQLITE_BUSY
  if (known) return new ApiError(known[0], known[1]);
  // better-sqlite3, when a request still running meets a project closed under it
  if (e instanceof TypeError && /database connection is not open/.test(e.message)) {
    return new ApiError('no_project', 'The project was closed while this was running.');
  }
  return new ApiError('internal', 'Something went wrong inside Delineate. The details are in its log.');
}
