/**
 * The node's log: one JSON object per line (time, event, and what the event is about), to
 * stderr or appended to a file, so a service manager's journal or a log shipper can follow
 * every job. Runtime: node.
 */
import { appendFileSync } from 'node:fs';

export type LogFields = Record<string, string | number | boolean | null | undefined | string[]>;
export type NodeLog = (event: string, fields?: LogFields) => void;

export function nodeLog(file: string | null, now: () => Date = () => new Date()): NodeLog {
  return (event, fields = {}) => {
    const line = `${JSON.stringify({ at: now().toISOString(), event, ...fields })}\n`;
    // Synchronous on purpose: a line written before a crash is a line kept.
    if (file) appendFileSync(file, line);
    else process.stderr.write(line);
  };
}
