/**
 * The status page in a real browser: headless Chromium (Debian's package, which .ci/run
 * installs when missing) loads /_breakwater/status after an outage and shows the open breaker.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import express from 'express';
import { createEngine } from '@breakwater/core';
import { breakwater } from '@breakwater/express';
import { fakeTarget } from '@breakwater/testing';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// CI installs Chromium (.ci/run) and must run this test; a developer machine without it skips it, saying so.
const runnable = existsSync(CHROMIUM) || process.env.CI === 'true';
if (!runnable)
  console.warn(`skipping the status page browser test: no Chromium at ${CHROMIUM} (apt-get install chromium)`);

describe('the status page in headless Chromium', () => {
  it.runIf(runnable)(
    'renders and shows an open breaker after an outage',
    async () => {
      const engine = createEngine({
        targets: {
          primary: { ...fakeTarget({ outages: [{ from: 0, to: 3_600_000 }] }).target, retry: { maxAttempts: 1 } },
          secondary: fakeTarget().target,
        },
      });
      const app = express();
      const bw = breakwater(engine, { logger: false, status: true });
      app.use(bw);
      app.get('/ask', bw.route(), async (req, res) => void res.json(await req.breakwater.call({})));
      app.use(bw.errors);
      const server = http.createServer(app);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      for (let i = 0; i < 6; i++) await fetch(`${origin}/ask`);

      const profile = mkdtempSync(join(tmpdir(), 'breakwater-chromium-'));
      try {
        const { stdout } = await run(
          CHROMIUM,
          [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            `--user-data-dir=${profile}`,
            '--dump-dom',
            `${origin}/_breakwater/status`,
          ],
          { timeout: 60_000 },
        );
        expect(stdout).toContain('<h1>breakwater</h1>');
        expect(stdout).toMatch(/<tr class="open"><td>primary<\/td><td><span class="badge open">open<\/span>/);
        expect(stdout).toMatch(/<tr class="closed"><td>secondary<\/td>/);
        expect(stdout).toMatch(/<td>secondary<\/td><td>6<\/td>/); // answers per tier
      } finally {
        rmSync(profile, { recursive: true, force: true });
        server.close();
        bw.close();
      }
    },
    90_000,
  );
});
