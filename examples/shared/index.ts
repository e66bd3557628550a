export { createChatEngine, type ChatAnswer, type ChatEngine, type ChatInput, type ProviderUrls } from './engine.js';
export { providersFromEnv, type Providers } from './providers.js';
export { parseChat, STATIC_ANSWER, timeoutFromEnv } from './chat.js';
