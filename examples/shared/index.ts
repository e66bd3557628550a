export { createChatEngine, type ChatAnswer, type ChatEngine, type ChatInput, type ProviderUrls } from './engine.js';
export { providersFromEnv, type Providers } from './providers.js';
export { errorResponse, parseChat, STATIC_ANSWER, timeoutFromEnv } from './chat.js';
export { serveExample, type ExampleApp } from './serve.js';
