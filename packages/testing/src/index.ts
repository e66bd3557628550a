/**
 * @module @breakwater/testing
 * Fake OpenAI- and Anthropic-compatible providers that fail the way real ones do, over
 * loopback HTTP for the official SDKs, or in process for fast and virtual-time tests.
 */
export {
  fakeOpenAI,
  fakeAnthropic,
  type FakeProvider,
  type FakeProviderOptions,
  type RequestLogEntry,
} from './server.js';
export {
  fakeTarget,
  FakeProviderError,
  type FakeAnswer,
  type FakeChunk,
  type FakeClock,
  type FakeTarget,
  type FakeTargetOptions,
} from './in-process.js';
export {
  FAULT_NAMES,
  FaultPlan,
  checkFault,
  type Fault,
  type FaultControls,
  type FaultName,
  type FaultOptions,
  type FaultSpec,
  type OutageWindow,
} from './faults.js';
export { checkLatency, sampleLatency, type Latency } from './latency.js';
export { DEFAULT_REPLY, type Reply } from './reply.js';
export { openaiDialect, anthropicDialect, type Dialect } from './dialects.js';
