/**
 * `pnpm bench`: runs the benchmarks, writes bench/results/<id>.json and bench/results/README.md.
 * `pnpm bench --smoke` runs tiny sizes without writing results (CI keeps them from rotting).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runB1 } from './b1-call-overhead.js';
import { runB2 } from './b2-http-throughput.js';
import { runB3 } from './b3-availability.js';
import { runB4 } from './b4-rate-limit-storm.js';
import { runB5 } from './b5-hedging.js';
import { runB6 } from './b6-breaker.js';
import { runB7 } from './b7-memory.js';
import { RESULTS_DIR, type BenchResult } from './results.js';

const smoke = process.argv.includes('--smoke');
const results: BenchResult[] = [];

results.push(await runB1(smoke ? { calls: 200, rounds: 2, write: false } : {}));
results.push(await runB2(smoke ? { duration: 1, rounds: 1, connections: 10, write: false } : {}));
results.push(await runB3(smoke ? { requests: 500, days: 2, write: false } : {}));
results.push(await runB4(smoke ? { seconds: 1, write: false } : {}));
results.push(await runB5(smoke ? { calls: 500, write: false } : {}));
results.push(await runB6(smoke ? { hours: 0.02, write: false } : {}));
results.push(await runB7(smoke ? { requests: 2_000, write: false } : {}));

const rows = results.map((r) => {
  const peers = Object.entries(r.peers)
    .map(([name, v]) => `${name} ${v}`)
    .join(', ');
  const verdict = smoke ? 'smoke (too small to judge)' : r.pass ? 'pass' : '**fail**';
  return `| ${r.id} | ${r.metric} | ${r.goal} | ${r.value} ${r.unit} | ${peers} | ${verdict} |`;
});
const table = ['| id | metric | goal | breakwater | peers | pass |', '|---|---|---|---|---|---|', ...rows].join('\n');
console.log(table);
for (const r of results) if (r.details) console.log(r.id, JSON.stringify(r.details));
if (!smoke) {
  writeFileSync(
    join(RESULTS_DIR, 'README.md'),
    `# Benchmark results\n\nWritten by \`pnpm bench\`; each row's JSON is beside this file.\n\n${table}\n`,
  );
}
