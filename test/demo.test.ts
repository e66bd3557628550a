/** The README's first command keeps working: a short run of the demo, its table and its report. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('pnpm demo', () => {
  it('runs, prints the availability table and writes a self-contained report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'breakwater-demo-'));
    const out = join(dir, 'report.html');
    try {
      const { stdout } = await run(
        process.execPath,
        [
          '--import',
          'tsx',
          '--conditions=@breakwater/source',
          'examples/demo/main.ts',
          '--duration',
          '4',
          '--rate',
          '10',
          '--out',
          out,
        ],
        { timeout: 60_000 },
      );
      expect(stdout).toContain('users answered at all (incl. cache and static)');
      expect(stdout).toMatch(/users answered at all \(incl\. cache and static\)\s*│\s*'100\.00 %'/);
      const html = readFileSync(out, 'utf8');
      expect(html).toContain('<svg');
      expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/); // no script, no external assets
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
