/**
 * Starting a worker thread from a module that sits next to its caller: the compiled .js in
 * the app, the .ts source under tsx (tests, the dev host, benches). Node 20 does not carry
 * `--import tsx` hooks into worker threads, so from source a two-line bootstrap registers
 * tsx's loader inside the worker before importing the module.
 *
 * Runtime: Node.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** `jsUrl`: the compiled module, e.g. `new URL('./decode-worker.node.js', import.meta.url)`. */
export function startModuleWorker(jsUrl: URL, workerData: unknown): Worker {
  if (existsSync(fileURLToPath(jsUrl))) return new Worker(jsUrl, { workerData });
  const ts = new URL(jsUrl.href.replace(/\.js$/, '.ts')).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(ts)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/** A worker process as the services use it, whoever started it (Node's fork, Electron's utilityProcess). */
export interface WorkerProcess {
  readonly pid: number | undefined;
  send(message: unknown): void;
  onMessage(f: (message: unknown) => void): void;
  /** Called once when it ends, however it ends. */
  onExit(f: (why: string) => void): void;
  /** Kill it now; resolves once it has exited. */
  kill(): Promise<void>;
}

/** Starts `jsUrl` as a process with `data` as its argv[2] (JSON). */
export type ProcessStarter = (jsUrl: URL, data: unknown) => WorkerProcess;

/**
 * The default starter: Node's child_process.fork. Inside a packaged Electron app fork needs
 * the runAsNode fuse, which is off there; main.ts passes a starter built on utilityProcess.
 */
export const forkStarter: ProcessStarter = (jsUrl, data) => {
  const child = startModuleProcess(jsUrl, data);
  return {
    pid: child.pid,
    send: (m) => void child.send(m as object),
    onMessage: (f) => void child.on('message', f),
    onExit: (f) => {
      let done = false;
      const once = (why: string) => {
        if (!done) (done = true), f(why);
      };
      child.on('error', (e) => once(e.message));
      child.on('exit', (code, signal) => once(`exit ${signal ?? code}`));
    },
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
};

/**
 * The same module as a child process (IPC with structured clone, so typed arrays travel as
 * they are). For work that must be stoppable mid-run: killing a process is safe, while
 * terminating a worker thread inside a native call (an onnxruntime run) aborts the whole app.
 * `data` arrives as the child's argv[2] (JSON). The child exits when its parent goes away.
 */
export function startModuleProcess(jsUrl: URL, data: unknown): ChildProcess {
  const js = fileURLToPath(jsUrl);
  const opts = { serialization: 'advanced' as const, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] as ('ignore' | 'inherit' | 'ipc')[] };
  if (existsSync(js)) return fork(js, [JSON.stringify(data ?? null)], opts);
  return fork(js.replace(/\.js$/, '.ts'), [JSON.stringify(data ?? null)], { ...opts, execArgv: ['--import', 'tsx'] });
}
