/**
 * B7: memory under load. 1,000,000 requests through the Koa adapter with the cache tier and
 * idempotency on (a worker process with --expose-gc; see b7-memory-worker.ts). The heap after
 * GC must stay flat: growth from the first sample after warm-up to the last < 50 MB, and no
 * upward trend over the second half (slope below 1 MB per 100,000 requests).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { environment, writeResult, type BenchResult } from './results.js';

const run = promisify(execFile);

export interface B7Options {
  requests?: number;
  write?: boolean;
}

export async function runB7({ requests = 1_000_000, write = true }: B7Options = {}): Promise<BenchResult> {
  const worker = fileURLToPath(new URL('./b7-memory-worker.ts', import.meta.url));
  const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', worker, String(requests)], {
    maxBuffer: 1 << 20,
    timeout: 30 * 60_000,
  });
  const { samples } = JSON.parse(stdout.trim().split('\n').at(-1)!) as { samples: [number, number][] };
  const warm = samples[2] ?? samples[0]!; // after the caches and the idempotency store have filled
  const last = samples.at(-1)!;
  const growth = last[1] - warm[1];
  const half = samples.slice(Math.floor(samples.length / 2));
  const slope = regression(half) * 100_000; // MB per 100,000 requests
  const result: BenchResult = {
    id: 'B7',
    metric: 'heap growth after GC over the run (Koa, cache tier and idempotency on)',
    unit: 'MB',
    value: Math.round(growth * 10) / 10,
    peers: {},
    goal: 'growth < 50 MB and no upward trend (< 1 MB per 100k requests over the second half)',
    pass: growth < 50 && slope < 1,
    details: { slopeMbPer100k: Math.round(slope * 100) / 100, samples, requests, ...environment() },
  };
  if (write) writeResult(result);
  return result;
}

/** Least-squares slope of y over x. */
function regression(points: [number, number][]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}
