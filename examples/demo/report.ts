/** The demo's self-contained HTML report: inline SVG, no script, no external assets. */

export interface SecondCounts {
  second: number;
  counts: Record<string, number>;
}

export interface Timeline {
  name: string;
  /** [fromSecond, toSecond] outage windows. */
  outages: [number, number][];
  /** [fromSecond, toSecond, state] breaker states. */
  breaker: [number, number, string][];
}

export interface ReportData {
  title: string;
  duration: number;
  tiers: string[];
  perSecond: SecondCounts[];
  timelines: Timeline[];
  summary: [string, string][];
}

const COLORS: Record<string, string> = {
  primary: '#2f9e44',
  secondary: '#1971c2',
  cache: '#f08c00',
  static: '#ae3ec9',
  error: '#e03131',
  open: '#e03131',
  half_open: '#f08c00',
  closed: '#2f9e44',
  down: '#e03131',
};

const esc = (text: string): string =>
  text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export function renderReport(data: ReportData): string {
  const width = 960;
  const chartHeight = 220;
  const left = 120;
  const plotWidth = width - left - 20;
  const x = (second: number): number => left + (second / data.duration) * plotWidth;
  const barWidth = Math.max(1, plotWidth / data.duration - 1);
  const max = Math.max(1, ...data.perSecond.map((s) => Object.values(s.counts).reduce((a, b) => a + b, 0)));
  const bars: string[] = [];
  for (const { second, counts } of data.perSecond) {
    let y = chartHeight;
    for (const tier of data.tiers) {
      const n = counts[tier] ?? 0;
      if (n === 0) continue;
      const h = (n / max) * (chartHeight - 20);
      y -= h;
      bars.push(
        `<rect x="${x(second).toFixed(1)}" y="${y.toFixed(1)}" width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[tier] ?? '#868e96'}"><title>${second}s ${esc(tier)}: ${n}</title></rect>`,
      );
    }
  }
  const rowHeight = 22;
  const rows: string[] = [];
  data.timelines.forEach((timeline, i) => {
    const yOutage = chartHeight + 30 + i * 2 * rowHeight;
    const yBreaker = yOutage + rowHeight;
    rows.push(`<text x="0" y="${yOutage + 15}" font-size="12">${esc(timeline.name)} outages</text>`);
    rows.push(`<rect x="${left}" y="${yOutage + 3}" width="${plotWidth}" height="${rowHeight - 6}" fill="#ebfbee"/>`);
    for (const [from, to] of timeline.outages) {
      rows.push(
        `<rect x="${x(from).toFixed(1)}" y="${yOutage + 3}" width="${Math.max(1, x(to) - x(from)).toFixed(1)}" height="${rowHeight - 6}" fill="${COLORS.down}"><title>down ${from.toFixed(1)}-${to.toFixed(1)} s</title></rect>`,
      );
    }
    rows.push(`<text x="0" y="${yBreaker + 15}" font-size="12">${esc(timeline.name)} breaker</text>`);
    for (const [from, to, state] of timeline.breaker) {
      rows.push(
        `<rect x="${x(from).toFixed(1)}" y="${yBreaker + 3}" width="${Math.max(1, x(to) - x(from)).toFixed(1)}" height="${rowHeight - 6}" fill="${COLORS[state] ?? '#868e96'}"><title>${esc(state)} ${from.toFixed(1)}-${to.toFixed(1)} s</title></rect>`,
      );
    }
  });
  const height = chartHeight + 40 + data.timelines.length * 2 * rowHeight + 20;
  const axis = Array.from({ length: Math.floor(data.duration / 10) + 1 }, (_, i) => i * 10)
    .map((s) => `<text x="${x(s).toFixed(1)}" y="${height - 4}" font-size="11" text-anchor="middle">${s}s</text>`)
    .join('');
  const legend = data.tiers
    .map(
      (t) =>
        `<span style="display:inline-block;margin-right:1rem"><span style="display:inline-block;width:.8rem;height:.8rem;background:${COLORS[t] ?? '#868e96'}"></span> ${esc(t)}</span>`,
    )
    .join('');
  const summary = data.summary.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(data.title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;color:#1d2330}td{padding:.25rem .8rem;border-bottom:1px solid #dde2ea}</style>
</head><body>
<h1>${esc(data.title)}</h1>
<p>Answers per second, stacked by the tier that answered; beneath, each provider's outage windows and its breaker state.</p>
<p>${legend}</p>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<line x1="${left}" y1="${chartHeight}" x2="${width - 20}" y2="${chartHeight}" stroke="#868e96"/>
${bars.join('\n')}
${rows.join('\n')}
${axis}
</svg>
<h2>Summary</h2><table>${summary}</table>
</body></html>
`;
}
