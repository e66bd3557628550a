/** Starts the Express chat app on PORT (default 3000); see ../../docs/adapters.md. */
import { createChatEngine, providersFromEnv, timeoutFromEnv } from '@breakwater/example-shared';
import { createApp } from './app.js';

const providers = await providersFromEnv();
const chatEngine = createChatEngine(providers);
const timeoutMs = timeoutFromEnv();
const { app, close } = createApp(chatEngine, timeoutMs ? { timeoutMs } : {});
const port = Number(process.env.PORT ?? 3000);
const server = app.listen(port, () => {
  console.log(`express-chat on http://localhost:${port} (POST /v1/chat, POST /v1/chat/stream)`);
  if (providers.fakes.length > 0)
    console.log(`fake providers in use: ${providers.fakes.map((f) => f.origin).join(', ')}`);
});
const stop = async () => {
  server.close();
  close();
  await chatEngine.close();
  await providers.close();
};
process.once('SIGINT', stop).once('SIGTERM', stop);
