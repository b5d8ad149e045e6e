/**
 * Worker processes in the packaged app: Electron's utilityProcess, because child_process.fork
 * needs the runAsNode fuse, which the app turns off (build/electron-builder.yml). The services
 * take this as their ProcessStarter; outside Electron they fork. Runtime: Electron main.
 */
import { utilityProcess } from 'electron';
import { fileURLToPath } from 'node:url';
import type { ProcessStarter } from './services/worker-thread.node.js';

export const utilityProcessStarter: ProcessStarter = (jsUrl, data) => {
  const child = utilityProcess.fork(fileURLToPath(jsUrl), [JSON.stringify(data ?? null)], { serviceName: 'Delineate SAM encoder', stdio: 'inherit' });
  let exited = false;
  const exitWaiters: (() => void)[] = [];
  child.on('exit', () => {
    exited = true;
    for (const w of exitWaiters.splice(0)) w();
  });
  return {
    get pid() {
      return child.pid;
    },
    send: (m) => child.postMessage(m),
    onMessage: (f) => void child.on('message', f),
    onExit: (f) => void child.once('exit', (code) => f(`exit ${code}`)),
    kill: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        exitWaiters.push(resolve);
        child.kill();
      }),
  };
};
