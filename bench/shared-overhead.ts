/**
 * What sharing state through Redis costs a call: the same engine with and without
 * `redisStore()`, in one process, interleaved rounds of 200,000 calls to a no-op target.
 * Not part of `pnpm bench` (it needs a Redis): run with
 * `BREAKWATER_REDIS_URL=redis://127.0.0.1:6379 npx tsx --conditions=@breakwater/source bench/shared-overhead.ts`.
 */
import { createEngine, type Chain, type Engine } from '@breakwater/core';
import { redisStore } from '@breakwater/redis';

const url = process.env.BREAKWATER_REDIS_URL;
if (!url) throw new Error('set BREAKWATER_REDIS_URL to a Redis to measure against');
const store = redisStore({ url });
for (let i = 0; i < 100 && !store.available; i++) await new Promise((resolve) => setTimeout(resolve, 20));
if (!store.available) throw new Error(`no Redis answers at ${url}`);

const target = { call: () => Promise.resolve(1) };
const plain = createEngine({ targets: { a: target } });
const shared = createEngine({ targets: { a: target }, store });

async function perCall(engine: Engine, chain: Chain, calls: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < calls; i++) await engine.call(0, { chain });
  return ((performance.now() - started) * 1000) / calls;
}

const rounds: [number, number][] = [];
for (let round = 0; round < 7; round++) {
  rounds.push([await perCall(plain, plain.chain(['a']), 200_000), await perCall(shared, shared.chain(['a']), 200_000)]);
}
const median = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const [without, withStore] = [median(rounds.map((r) => r[0])), median(rounds.map((r) => r[1]))];
console.log(
  `per call: ${without.toFixed(2)} us without a store, ${withStore.toFixed(2)} us with redisStore (${(withStore / without).toFixed(2)}x)`,
);
plain.close();
shared.close();
await store.close();
