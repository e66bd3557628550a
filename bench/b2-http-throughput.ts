/**
 * B2: HTTP throughput of Express and Koa with the breakwater middleware, a route and a call
 * through a no-op target, against the bare app; autocannon on loopback, subjects interleaved
 * in rounds. Goal: >= 0.90 of bare for each framework.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { environment, round2, writeResult, type BenchResult } from './results.js';

export interface B2Options {
  /** Seconds per subject per round. */
  duration?: number;
  rounds?: number;
  connections?: number;
  write?: boolean;
}

export async function runB2({
  duration = 4,
  rounds = 3,
  connections = 50,
  write = true,
}: B2Options = {}): Promise<BenchResult> {
  const script = fileURLToPath(new URL('./b2-servers.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
    const ports = JSON.parse(line) as Record<string, number>;
    const names = Object.keys(ports);
    const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? names : [...names].reverse();
      for (const name of order) {
        const result = await autocannon({ url: `http://127.0.0.1:${ports[name]}/`, connections, duration });
        if (result.non2xx > 0 || result.errors > 0)
          throw new Error(`B2: ${name} answered ${result.non2xx} non-2xx, ${result.errors} errors`);
        samples[name]!.push(result.requests.average);
      }
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const rps = Object.fromEntries(names.map((n) => [n, Math.round(mean(samples[n]!))]));
    const expressRatio = rps['express-breakwater']! / rps['express-bare']!;
    const koaRatio = rps['koa-breakwater']! / rps['koa-bare']!;
    const value = Math.min(expressRatio, koaRatio);
    const result: BenchResult = {
      id: 'B2',
      metric: 'HTTP throughput with breakwater vs the bare app (lower of Express and Koa)',
      unit: 'ratio',
      value: round2(value),
      peers: { 'express-bare': 1, 'koa-bare': 1 },
      goal: '>= 0.90 of bare, Express and Koa',
      pass: value >= 0.9,
      details: {
        requestsPerSecond: rps,
        expressRatio: round2(expressRatio),
        koaRatio: round2(koaRatio),
        connections,
        secondsPerRun: duration,
        rounds,
        ...environment(),
      },
    };
    if (write) writeResult(result);
    return result;
  } finally {
    child.stdin!.end();
    child.kill();
  }
}
