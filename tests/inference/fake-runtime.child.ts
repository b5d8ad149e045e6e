/**
 * A stand-in for the Python runtime that misbehaves on request (runtime-faults.test.ts):
 * it speaks the same Content-Length JSON-RPC on stdio, answers any request with its pid, and
 * on `fault.*` requests breaks the channel the way real children do.
 *
 *   node --import tsx tests/inference/fake-runtime.child.ts
 *
 * fault.stray       a library prints a line on stdout          ("hello from a library\n")
 * fault.noLength    a header block without Content-Length
 * fault.hugeLength  a Content-Length no client should wait for
 * fault.badJson     a well-framed body that is not JSON
 * fault.stop        the child stops itself (SIGSTOP) without answering
 * fault.crash       the child exits with code 3 after a line on stderr
 * fault.ignore      the request is never answered; the child keeps serving others
 * fake.job          {ms, progressEveryMs?}: a job that finishes after `ms`, silent unless asked
 * anything else     answered with {method, params, pid}
 */
import { createMessageConnection, NotificationType, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node.js';

const conn = createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(process.stdout));
const never = new Promise<never>(() => undefined);
let jobs = 0;

const faults: Record<string, () => void> = {
  'fault.stray': () => process.stdout.write('hello from a library\n'),
  'fault.noLength': () => process.stdout.write('Content-Type: application/json\r\n\r\n{"jsonrpc":"2.0","id":0,"result":1}'),
  'fault.hugeLength': () => process.stdout.write('Content-Length: 99999999999\r\n\r\n{"jsonrpc":"2.0"'),
  'fault.badJson': () => process.stdout.write('Content-Length: 9\r\n\r\n{not json'),
  'fault.stop': () => process.kill(process.pid, 'SIGSTOP'),
  'fault.crash': () => {
    process.stderr.write('Traceback (most recent call last):\nRuntimeError: fake runtime crashed on purpose\n');
    process.exit(3);
  },
  'fault.ignore': () => undefined,
};

conn.onRequest((method: string, params: unknown) => {
  const fault = faults[method];
  if (fault) {
    fault();
    return never; // no answer: whatever was pending stays pending unless the client notices
  }
  if (method === 'runtime.info') return { protocol_version: 1, pid: process.pid };
  if (method === 'fake.job') {
    const { ms, progressEveryMs } = params as { ms: number; progressEveryMs?: number };
    const job_id = `fake-${++jobs}`;
    const progress = progressEveryMs
      ? setInterval(() => void conn.sendNotification(new NotificationType('job.progress'), { job_id, kind: 'export', stage: 'working' }), progressEveryMs)
      : undefined;
    setTimeout(() => {
      clearInterval(progress);
      void conn.sendNotification(new NotificationType('job.finished'), { job_id, kind: 'export', state: 'succeeded', result: { pid: process.pid } });
    }, ms);
    return { job_id };
  }
  return { method, params, pid: process.pid };
});
conn.onNotification('exit', () => process.exit(0));
conn.onClose(() => process.exit(0));
conn.listen();
