import type { TargetStatus } from '../target.js';

/** What `/_breakwater/status` shows. */
export interface StatusSnapshot {
  /** ISO time of the snapshot. */
  at: string;
  targets: (TargetStatus & { openForMs?: number; cooldownForMs?: number; inFlight: number })[];
  /** Requests per answering tier over the last five minutes. */
  recentTiers: Record<string, number>;
  /** The shared store, when the engine has one: its kind and whether it answers now. */
  store?: { kind: string; available: boolean };
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const seconds = (ms: number | undefined): string => (ms === undefined ? '' : `${Math.ceil(ms / 1000)} s`);

/** A small self-contained HTML page (no external assets, no script) of a status snapshot. */
export function renderStatusPage(snapshot: StatusSnapshot): string {
  const rows = snapshot.targets
    .map((t) => {
      const state = t.breaker.replace('_', '-');
      return `<tr class="${state}"><td>${escapeHtml(t.name)}</td><td><span class="badge ${state}">${state}</span>${t.probing ? ' (probing)' : ''}</td><td>${seconds(t.openForMs)}</td><td>${seconds(t.cooldownForMs)}</td><td>${t.window.failures} / ${t.window.calls}</td><td>${t.inFlight}</td><td>${t.budgetTokens === undefined ? '' : t.budgetTokens.toFixed(1)}</td></tr>`;
    })
    .join('\n');
  const tiers = Object.entries(snapshot.recentTiers)
    .map(([tier, n]) => `<tr><td>${escapeHtml(tier)}</td><td>${n}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>breakwater status</title>
<style>
body{font:14px system-ui,sans-serif;margin:2rem;color:#1d2330}
table{border-collapse:collapse;margin:0 0 2rem}td,th{padding:.35rem .8rem;border-bottom:1px solid #dde2ea;text-align:left}
.badge{padding:.1rem .5rem;border-radius:.6rem;font-weight:600;color:#fff}
.badge.closed{background:#2f9e44}.badge.open{background:#e03131}.badge.half-open{background:#f08c00}
</style></head><body>
<h1>breakwater</h1><p>As of ${escapeHtml(snapshot.at)}${
    snapshot.store
      ? ` · shared state: ${escapeHtml(snapshot.store.kind)} <span id="store">${snapshot.store.available ? 'connected' : 'unreachable (this instance alone)'}</span>`
      : ''
  }</p>
<h2>Targets</h2>
<table id="targets"><thead><tr><th>target</th><th>breaker</th><th>next probe in</th><th>cooldown</th><th>failures / calls (window)</th><th>in flight</th><th>retry budget</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<h2>Answers in the last 5 minutes</h2>
<table id="tiers"><thead><tr><th>tier</th><th>requests</th></tr></thead><tbody>
${tiers || '<tr><td colspan="2">none yet</td></tr>'}
</tbody></table>
</body></html>
`;
}
