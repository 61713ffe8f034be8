// The llmplatform binary as a child process of a node test (test/node, test/web): started with
// its logs kept (the last 400 lines, both pipes read for the whole run: a full pipe would block
// the server's logging), ready once it logs "ready", stopped by PID.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

// `state` keeps what the test reads later: child, log (lines), exit ({code, signal}).
export function recentLog(state) {
  return state.log.slice(-40).join('\n');
}

// Starts `binary` with `args` and `env`; resolves with its port once it logs "ready".
export function launch(state, binary, args, env) {
  const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  state.child = child;
  return new Promise((resolve, reject) => {
    let port = 0;
    const timer = setTimeout(() => reject(new Error(`the server was not ready within 60 s:\n${recentLog(state)}`)), 60_000);
    const keep = (line) => {
      state.log.push(line);
      if (state.log.length > 400) state.log.shift();
    };
    createInterface({ input: child.stderr }).on('line', keep);
    createInterface({ input: child.stdout }).on('line', (line) => {
      keep(line);
      let entry;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      if (entry.msg === 'listening') port = entry.port;
      if (entry.msg === 'ready') {
        clearTimeout(timer);
        resolve(port || entry.port);
      }
    });
    child.on('exit', (code, signal) => {
      state.exit = { code, signal };
      clearTimeout(timer);
      reject(new Error(`the server exited (code ${code}, signal ${signal}) before it was ready:\n${recentLog(state)}`));
    });
  });
}

// SIGTERM by PID, then a bounded wait for the exit; SIGKILL if it does not come. Returns the
// exit ({code, signal}).
export async function stop(state, timeoutMs) {
  const child = state.child;
  if (!child || state.exit) return state.exit;
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  process.kill(child.pid, 'SIGTERM');
  let timer;
  const result = await Promise.race([exited, new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); })]);
  clearTimeout(timer);
  if (result) return result;
  process.kill(child.pid, 'SIGKILL');
  await exited;
  return { code: null, signal: `SIGKILL (no exit within ${timeoutMs / 1000} s of SIGTERM)` };
}
