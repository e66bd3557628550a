import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { createEngine } from './engine.js';
import { CallFailedError, MidStreamError } from './errors.js';
import type { AttemptContext } from './options.js';
import type { CallOutcome } from './outcome.js';

/** Real SDK error objects, as the clients throw them. */
const rateLimited = (headers: Record<string, string> = {}) =>
  new OpenAI.RateLimitError(
    429,
    { message: 'Rate limit reached', type: 'requests', code: 'rate_limit_exceeded' },
    undefined,
    new Headers(headers),
  );
const quota = () =>
  new OpenAI.RateLimitError(
    429,
    { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' },
    undefined,
    new Headers(),
  );
const serverError = () =>
  new OpenAI.InternalServerError(500, { message: 'boom', type: 'server_error' }, undefined, new Headers());
const badRequest = () =>
  new OpenAI.BadRequestError(
    400,
    { message: 'bad', type: 'invalid_request_error', code: null },
    undefined,
    new Headers(),
  );
const contextLength = () =>
  new OpenAI.BadRequestError(
    400,
    { message: 'too long', type: 'invalid_request_error', code: 'context_length_exceeded' },
    undefined,
    new Headers(),
  );
const overloaded = () =>
  new Anthropic.InternalServerError(
    529,
    { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
    undefined,
    new Headers(),
  );

type Step = 'ok' | 'hang' | (() => Error);

/** An in-memory target that follows a script, honours its signal and counts calls. */
function scripted(steps: Step[], answer = 'answer') {
  const target = {
    calls: 0,
    aborted: 0,
    call: (_input: unknown, ctx: AttemptContext): Promise<string> => {
      const step = steps[Math.min(target.calls, steps.length - 1)]!;
      target.calls++;
      if (step === 'ok') return Promise.resolve(answer);
      if (step === 'hang') {
        return new Promise((_, reject) => {
          ctx.signal.addEventListener('abort', () => {
            target.aborted++;
            reject(ctx.signal.reason);
          });
        });
      }
      return Promise.reject(step());
    },
  };
  return target;
}

function setup(primarySteps: Step[], secondarySteps: Step[] = ['ok'], extra: Record<string, unknown> = {}) {
  const clock = new ManualClock();
  const primary = scripted(primarySteps, 'primary');
  const secondary = scripted(secondarySteps, 'secondary');
  const outcomes: CallOutcome[] = [];
  const engine = createEngine<unknown, string>({
    clock,
    random: () => 0.5,
    targets: {
      primary: { call: primary.call, ...extra },
      secondary: { call: secondary.call },
    },
  });
  engine.on('outcome', (o) => outcomes.push(o));
  return { clock, primary, secondary, engine, outcomes };
}

describe('the call path', () => {
  it('answers from the primary on the success path', async () => {
    const { engine, primary, secondary, outcomes } = setup(['ok']);
    await expect(engine.call({})).resolves.toBe('primary');
    expect(primary.calls).toBe(1);
    expect(secondary.calls).toBe(0);
    expect(outcomes[0]).toMatchObject({ ok: true, target: 'primary', tier: 0, retries: 0 });
  });

  it('retries a 500 with jittered backoff, then succeeds on the same target', async () => {
    const { engine, clock, primary, outcomes } = setup([serverError, 'ok']);
    const pending = engine.call({});
    await clock.advance(250 * 0.5); // full jitter with random() = 0.5 and base 250 ms
    await expect(pending).resolves.toBe('primary');
    expect(primary.calls).toBe(2);
    expect(outcomes[0]!.retries).toBe(1);
    expect(outcomes[0]!.attempts[0]).toMatchObject({
      class: 'server',
      status: 500,
      waitMs: 125,
      waitReason: 'backoff',
    });
  });

  it('moves to the secondary at once when a 429 asks for more than the remaining deadline', async () => {
    const { engine, clock, primary, secondary, outcomes } = setup([() => rateLimited({ 'retry-after': '120' })]);
    const pending = engine.call({}, { timeout: 30_000 });
    await expect(pending).resolves.toBe('secondary');
    expect(clock.now()).toBe(0); // no sleep at all
    expect(primary.calls).toBe(1);
    expect(secondary.calls).toBe(1);
    expect(outcomes[0]).toMatchObject({ tier: 1, waitedMs: 0 });
    // The Retry-After became a cooldown: the next call skips the primary without trying it.
    await expect(engine.call({})).resolves.toBe('secondary');
    expect(primary.calls).toBe(1);
    expect(outcomes[1]!.skipped).toEqual([{ target: 'primary', reason: 'cooldown', retryInMs: 120_000 }]);
  });

  it('waits a short Retry-After and retries the same target', async () => {
    const { engine, clock, primary, secondary } = setup([() => rateLimited({ 'retry-after-ms': '800' }), 'ok']);
    const pending = engine.call({});
    await clock.advance(800);
    await expect(pending).resolves.toBe('primary');
    expect(primary.calls).toBe(2);
    expect(secondary.calls).toBe(0);
  });

  it('tries insufficient_quota exactly once and opens the breaker for long', async () => {
    const { engine, primary, secondary } = setup([quota]);
    await expect(engine.call({})).resolves.toBe('secondary');
    await expect(engine.call({})).resolves.toBe('secondary');
    expect(primary.calls).toBe(1);
    expect(secondary.calls).toBe(2);
    expect(engine.status('primary')).toMatchObject({ breaker: 'open', openUntil: 600_000 });
  });

  it('gives an overloaded 529 one retry only', async () => {
    const { engine, clock, primary, secondary } = setup([overloaded]);
    const pending = engine.call({});
    await clock.advance(1_000);
    await expect(pending).resolves.toBe('secondary');
    expect(primary.calls).toBe(2);
    expect(secondary.calls).toBe(1);
  });

  it('stops the chain on a bad request without trying the secondary', async () => {
    const { engine, secondary } = setup([badRequest]);
    const error = await engine.call({}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallFailedError);
    expect(error).toMatchObject({ failureClass: 'bad_request', isCallerError: true });
    expect(secondary.calls).toBe(0);
  });

  it('sends a context-length failure to the configured larger-context target', async () => {
    const clock = new ManualClock();
    const small = scripted([contextLength]);
    const cheap = scripted(['ok'], 'cheap');
    const large = scripted(['ok'], 'large');
    const engine = createEngine<unknown, string>({
      clock,
      targets: {
        small: { call: small.call, contextFallback: 'large' },
        cheap: { call: cheap.call },
        large: { call: large.call },
      },
    });
    await expect(engine.call({}, { chain: ['small', 'cheap'] })).resolves.toBe('large');
    expect(cheap.calls).toBe(0);
    expect(small.calls).toBe(1);
  });

  it('opens the breaker under a hard outage; later calls skip the primary until the probe succeeds', async () => {
    const clock = new ManualClock();
    let healthy = false;
    let probes = 0;
    let primaryCalls = 0;
    const secondary = scripted(['ok'], 'secondary');
    const engine = createEngine<unknown, string>({
      clock,
      random: () => 0,
      targets: {
        primary: {
          call: async () => {
            primaryCalls++;
            if (!healthy) throw serverError();
            return 'primary';
          },
          probe: async () => {
            probes++;
            if (!healthy) throw serverError();
          },
          retry: { maxAttempts: 1 },
        },
        secondary: { call: secondary.call },
      },
    });
    const transitions: string[] = [];
    engine.on('breaker', (e) => transitions.push(`${e.from}->${e.to}:${e.reason}`));
    for (let i = 0; i < 5; i++) await expect(engine.call({})).resolves.toBe('secondary');
    expect(primaryCalls).toBe(5);
    expect(transitions).toEqual(['closed->open:consecutive_failures']);

    // Open: user calls never reach the primary, even after the cooldown, while the probe fails.
    for (let i = 0; i < 20; i++) {
      await engine.call({});
      await clock.advance(5_000);
    }
    expect(primaryCalls).toBe(5);
    expect(probes).toBeGreaterThanOrEqual(1);
    expect(transitions).toContain('half_open->open:probe_failed');
    // The probe failed once, so the cooldown doubled.
    expect(engine.status('primary').breaker).not.toBe('closed');

    healthy = true;
    await clock.advance(120_000);
    await engine.call({}); // notices the cooldown ended and starts the probe; served by the secondary
    await clock.advance(0);
    expect(engine.status('primary').breaker).toBe('closed');
    await expect(engine.call({})).resolves.toBe('primary');
  });

  it('uses a few user calls as trials when the target has no probe', async () => {
    const { engine, clock, primary } = setup(
      [serverError, serverError, serverError, serverError, serverError, 'ok'],
      ['ok'],
      {
        retry: { maxAttempts: 1 },
      },
    );
    for (let i = 0; i < 5; i++) await engine.call({});
    expect(engine.status('primary').breaker).toBe('open');
    await expect(engine.call({})).resolves.toBe('secondary');
    expect(primary.calls).toBe(5);
    await clock.advance(30_000);
    await expect(engine.call({})).resolves.toBe('primary');
    expect(engine.status('primary').breaker).toBe('closed');
  });

  it('stops the in-flight attempt at once when the caller aborts', async () => {
    const { engine, primary, secondary } = setup(['hang']);
    const controller = new AbortController();
    const pending = engine.call({}, { signal: controller.signal });
    await Promise.resolve();
    controller.abort();
    const error = await pending.catch((e: unknown) => e);
    expect(error).toMatchObject({ failureClass: 'cancelled' });
    expect(primary.aborted).toBe(1);
    expect(secondary.calls).toBe(0);
  });

  it('ends a backoff sleep at once when the caller aborts', async () => {
    const { engine, clock, primary } = setup([serverError, 'ok']);
    const controller = new AbortController();
    const pending = engine.call({}, { signal: controller.signal });
    await clock.advance(10); // inside the 125 ms backoff
    controller.abort();
    await expect(pending).rejects.toMatchObject({ failureClass: 'cancelled' });
    expect(clock.now()).toBe(10);
    expect(primary.calls).toBe(1);
  });

  it('times out a hung attempt and falls through to the secondary', async () => {
    const { engine, clock, primary, outcomes } = setup(['hang']);
    const pending = engine.call({});
    await clock.advance(30_000);
    await expect(pending).resolves.toBe('secondary');
    expect(primary.aborted).toBe(1);
    expect(outcomes[0]!.attempts[0]).toMatchObject({ class: 'timeout', phase: 'attempt' });
  });

  it('fails with a total timeout and aborts the attempt when the deadline passes', async () => {
    const { engine, clock, primary } = setup(['hang'], ['hang']);
    const pending = engine.call({}, { timeout: 1_000 }).catch((e: unknown) => e);
    await clock.advance(1_000);
    expect(await pending).toMatchObject({ failureClass: 'timeout', classification: { phase: 'total' } });
    expect(primary.aborted).toBe(1);
  });

  it('stops retrying when the retry budget is spent', async () => {
    const clock = new ManualClock();
    const primary = scripted([serverError]);
    const engine = createEngine<unknown, string>({
      clock,
      random: () => 0,
      targets: {
        primary: {
          call: primary.call,
          retry: { budget: { maxTokens: 2, ratio: 0 } },
          breaker: { consecutiveFailures: 0, minimumCalls: 1000 },
        },
      },
    });
    for (let i = 0; i < 4; i++) {
      const pending = engine.call({}).catch(() => undefined);
      await clock.advance(0);
      await pending;
    }
    // 4 first attempts and only 2 retries (the two budget tokens).
    expect(primary.calls).toBe(6);
  });

  it('reports every target unavailable with the earliest retry time', async () => {
    const { engine } = setup([quota], [quota]);
    await engine.call({}).catch(() => undefined);
    const error = (await engine.call({}).catch((e: unknown) => e)) as CallFailedError;
    expect(error.failureClass).toBe('unavailable');
    expect(error.retryAfterMs).toBe(600_000);
  });
});

describe('streaming calls', () => {
  async function* chunks(parts: string[], failAfter?: Error): AsyncGenerator<string> {
    for (const part of parts) yield part;
    if (failAfter) throw failAfter;
  }

  async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
    const out: string[] = [];
    for await (const chunk of iterable) out.push(chunk);
    return out;
  }

  it('replaces a stream that fails before its first content chunk, unseen by the consumer', async () => {
    let opened = 0;
    const clock = new ManualClock();
    const engine = createEngine<unknown, unknown, string>({
      clock,
      random: () => 0,
      targets: {
        primary: {
          stream: () => {
            opened++;
            return opened === 1 ? chunks([], overloaded()) : chunks(['a', 'b']);
          },
        },
      },
    });
    const result = collect(engine.stream({}));
    await clock.advance(0); // the (zero) backoff before the retry
    await expect(result).resolves.toEqual(['a', 'b']);
    expect(opened).toBe(2);
  });

  it('throws a MidStreamError after the commit point, never a clean end', async () => {
    const outcomes: CallOutcome[] = [];
    const engine = createEngine<unknown, unknown, string>({
      clock: new ManualClock(),
      targets: {
        primary: { stream: () => chunks(['a', 'b'], overloaded()) },
        secondary: { stream: () => chunks(['x']) },
      },
    });
    const received: string[] = [];
    const error = await (async () => {
      for await (const chunk of engine.stream({}, { onOutcome: (o) => outcomes.push(o) })) received.push(chunk);
    })().catch((e: unknown) => e);
    expect(received).toEqual(['a', 'b']);
    expect(error).toBeInstanceOf(MidStreamError);
    expect(error).toMatchObject({ delivered: 2, failureClass: 'overloaded' });
    expect(outcomes[0]).toMatchObject({ ok: false, complete: false, delivered: 2, target: 'primary' });
  });

  it('turns a silent end after an idle timeout into a MidStreamError', async () => {
    const clock = new ManualClock();
    // Like the official SDKs: when the signal aborts mid-stream, the iterator just ends.
    async function* stallsThenEndsQuietly(signal: AbortSignal): AsyncGenerator<string> {
      yield 'first';
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
    }
    const engine = createEngine<unknown, unknown, string>({
      clock,
      targets: { primary: { stream: (_input, ctx) => stallsThenEndsQuietly(ctx.signal), timeouts: { idle: 2_000 } } },
    });
    const received: string[] = [];
    const consuming = (async () => {
      for await (const chunk of engine.stream({})) received.push(chunk);
    })().catch((e: unknown) => e);
    await clock.advance(2_000);
    const error = await consuming;
    expect(received).toEqual(['first']);
    expect(error).toMatchObject({ failureClass: 'timeout', delivered: 1, classification: { phase: 'idle' } });
  });

  it('does not count the time the consumer holds a chunk as upstream silence', async () => {
    const clock = new ManualClock();
    const engine = createEngine<unknown, unknown, string>({
      clock,
      targets: { primary: { stream: () => chunks(['a', 'b', 'c']), timeouts: { idle: 1_000 } } },
    });
    const received: string[] = [];
    const consuming = (async () => {
      for await (const chunk of engine.stream({})) {
        received.push(chunk);
        await clock.advance(3_000); // a slow consumer: three idle periods per chunk
      }
    })();
    await expect(consuming).resolves.toBeUndefined();
    expect(received).toEqual(['a', 'b', 'c']);
  });

  it('aborts the upstream when the consumer stops reading', async () => {
    let aborted = false;
    async function* endless(signal: AbortSignal): AsyncGenerator<string> {
      signal.addEventListener('abort', () => (aborted = true));
      for (let i = 0; ; i++) yield String(i);
    }
    const engine = createEngine<unknown, unknown, string>({
      clock: new ManualClock(),
      targets: { primary: { stream: (_input, ctx) => endless(ctx.signal) } },
    });
    const outcomes: CallOutcome[] = [];
    for await (const chunk of engine.stream({}, { onOutcome: (o) => outcomes.push(o) })) if (chunk === '3') break;
    expect(aborted).toBe(true);
    expect(outcomes[0]).toMatchObject({ ok: false, failureClass: 'cancelled', delivered: 4 });
  });
});

describe('configuration', () => {
  const call = async () => 'x';
  it('names a misspelled option and suggests the right one', () => {
    expect(() => createEngine({ targets: { a: { call, retyr: {} } as never } })).toThrow(
      /options\.targets\["a"\]\.retyr is not an option; did you mean "retry"\?/,
    );
  });
  it('rejects out-of-range values with the path and what was expected', () => {
    expect(() => createEngine({ targets: { a: { call, retry: { maxAttempts: 0 } } } })).toThrow(
      /options\.targets\["a"\]\.retry\.maxAttempts must be an integer from 1 to 10; got 0/,
    );
    expect(() => createEngine({ targets: { a: { call, breaker: { cooldown: '30 seconds' as never } } } })).toThrow(
      TypeError,
    );
  });
  it('applies the cross-checks', () => {
    expect(() =>
      createEngine({ defaults: { timeouts: { total: '10s', attempt: '20s' } }, targets: { a: { call } } }),
    ).toThrow(/timeouts\.attempt must be at most timeouts\.total/);
    expect(() =>
      createEngine({ targets: { a: { call, timeouts: { attempt: '40s' }, breaker: { window: '60s' } } } }),
    ).toThrow(/breaker\.window must be at least twice/);
    expect(() =>
      createEngine({
        defaults: { timeouts: { total: '5s' }, retry: { maxTotalWait: '6s' } },
        targets: { a: { call } },
      }),
    ).toThrow(/retry\.maxTotalWait must be at most timeouts\.total/);
  });
  it('lets unset values follow the ones that are set', () => {
    const engine = createEngine({ defaults: { timeouts: { total: '5s' } }, targets: { a: { call } } });
    expect(engine.defaults.timeouts).toMatchObject({ total: 5_000, attempt: 5_000 });
    expect(engine.defaults.retry.maxTotalWait).toBe(5_000);
    expect(() => createEngine({ targets: { a: { call, timeouts: { attempt: '45s' } } } })).not.toThrow();
  });
  it('rejects a target without call or stream, unknown chains and fallbacks', () => {
    expect(() => createEngine({ targets: { a: {} } })).toThrow(/call\(\) or stream\(\)/);
    expect(() => createEngine({ targets: { a: { call, contextFallback: 'nope' } } })).toThrow(/contextFallback/);
    const engine = createEngine({ targets: { a: { call } } });
    expect(() => engine.chain(['a', 'b'])).toThrow(/chain\[1\] must be one of the engine's targets/);
  });
  it('warns when the SDK client keeps its own retries on', async () => {
    const engine = createEngine({ targets: { a: { call, client: { maxRetries: 2 } } } });
    const warnings: string[] = [];
    engine.on('warning', (w) => warnings.push(w.code));
    await Promise.resolve();
    expect(warnings).toEqual(['sdk_retries']);
  });
});
