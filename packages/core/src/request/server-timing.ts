import type { ServerResponse } from 'node:http';
import type { RequestScope } from './scope.js';

/**
 * Adds `Server-Timing` to `res` just before its head is written: the request's total time so
 * far, the first call's time to first token, and the provider that answered.
 */
export function addServerTiming(res: ServerResponse, scope: RequestScope<unknown>): void {
  const writeHead = res.writeHead;
  res.writeHead = function writeHeadWithTiming(this: ServerResponse, ...args: unknown[]) {
    if (!this.headersSent) this.setHeader('server-timing', serverTiming(scope));
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}

/** The `Server-Timing` value for a request's scope. */
export function serverTiming(scope: RequestScope<unknown>): string {
  const parts = [`total;dur=${scope.elapsedMs().toFixed(1)}`];
  const first = scope.outcomes.find((o) => o.firstTokenMs !== undefined);
  if (first?.firstTokenMs !== undefined) parts.push(`ttft;dur=${first.firstTokenMs.toFixed(1)}`);
  const answered = scope.outcomes.findLast((o) => o.ok);
  if (answered?.target) parts.push(`provider;desc="${answered.target.replace(/["\\]/g, '')}"`);
  if (scope.tier) parts.push(`degraded;desc="${scope.tier}"`);
  return parts.join(', ');
}
