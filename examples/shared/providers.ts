/**
 * Where the examples find their providers: the SDKs' own environment variables
 * (`OPENAI_BASE_URL`, `OPENAI_API_KEY`, `ANTHROPIC_BASE_URL`, `ANTHROPIC_API_KEY`), or, when a
 * base URL is unset, a fake provider started in process so the example runs on its own.
 */
import { fakeAnthropic, fakeOpenAI, type FakeProvider, type FakeProviderOptions } from '@breakwater/testing';
import type { ProviderUrls } from './engine.js';

export interface Providers extends ProviderUrls {
  /** The fakes started here (closed by `close()`). */
  fakes: FakeProvider[];
  close(): Promise<void>;
}

export async function providersFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  fakeOptions: { openai?: FakeProviderOptions; anthropic?: FakeProviderOptions } = {},
): Promise<Providers> {
  const fakes: FakeProvider[] = [];
  let openaiBaseURL = env.OPENAI_BASE_URL;
  if (!openaiBaseURL) {
    const fake = await fakeOpenAI({ latency: { logNormal: { median: 60, sigma: 0.5 } }, ...fakeOptions.openai });
    fakes.push(fake);
    openaiBaseURL = fake.baseURL;
  }
  let anthropicBaseURL = env.ANTHROPIC_BASE_URL;
  if (!anthropicBaseURL) {
    const fake = await fakeAnthropic({ latency: { logNormal: { median: 80, sigma: 0.5 } }, ...fakeOptions.anthropic });
    fakes.push(fake);
    anthropicBaseURL = fake.baseURL;
  }
  return {
    openaiBaseURL,
    anthropicBaseURL,
    fakes,
    close: async () => void (await Promise.all(fakes.map((f) => f.close()))),
  };
}
