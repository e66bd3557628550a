import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One benchmark's result, in the format every benchmark writes to bench/results/<id>.json. */
export interface BenchResult {
  id: string;
  metric: string;
  unit: string;
  value: number;
  peers: Record<string, number>;
  goal: string;
  pass: boolean;
  /** Anything else worth keeping: ratios, settings, environment. */
  details?: Record<string, unknown>;
}

/** The folder results are written to. */
export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'results');

/** Writes `bench/results/<id>.json` (or into `dir`). */
export function writeResult(result: BenchResult, dir = RESULTS_DIR): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${result.id}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

/** Node version, CPU and the date, for every result. */
export function environment(): Record<string, string> {
  return { node: process.version, platform: `${process.platform}-${process.arch}`, date: new Date().toISOString() };
}

/** Rounds to two decimals, for figures in results. */
export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
