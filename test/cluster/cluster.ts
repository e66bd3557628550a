/**
 * Several instances of `instance.ts`, each its own Node process, on one Redis: started with
 * their own environment, talked to over loopback, their JSON log lines collected.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./instance.ts', import.meta.url));

/** One running instance. */
export interface Instance {
  name: string;
  url: string;
  /** Its log records so far (breaker transitions, store outages, degraded answers). */
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

/** Starts an instance; resolves when it listens (bounded: 30 s). */
export function startInstance(name: string, env: Record<string, string>): Promise<Instance> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@breakwater/source', '--no-warnings', SCRIPT],
    { env: { ...process.env, ...env, INSTANCE: name }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (process.env.CLUSTER_DEBUG) process.stderr.write(`[${name}] ${chunk.toString()}`);
  });
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM')
      process.stderr.write(`instance ${name} exited (${code ?? signal}): ${stderr.slice(-2000)}\n`);
  });
  return new Promise<Instance>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`instance ${name} did not start in 30 s: ${stderr}`));
    }, 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`instance ${name} exited with ${code}: ${stderr}`));
    });
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        const ready = /^READY (\d+)$/.exec(line);
        if (ready) {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          resolve({
            name,
            url: `http://127.0.0.1:${ready[1]}`,
            logs,
            stop: () =>
              new Promise<void>((done) => {
                if (child.exitCode !== null) return done();
                const kill = setTimeout(() => child.kill('SIGKILL'), 5_000);
                child.once('exit', () => {
                  clearTimeout(kill);
                  done();
                });
                child.kill('SIGTERM');
              }),
          });
        } else if (line.startsWith('{')) logs.push(JSON.parse(line) as Record<string, unknown>);
      }
    });
  });
}

/** POSTs JSON; resolves with the status, the headers and the parsed body. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** Polls `check` every 20 ms until it holds; throws after `ms`. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A chat body. */
export const ask = (content: string) => ({ messages: [{ role: 'user', content }] });
