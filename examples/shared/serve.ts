/** Starting an example app from the command line: providers, engine, PORT, clean shutdown. */
import http from 'node:http';
import { createChatEngine, type ChatEngine } from './engine.js';
import { providersFromEnv } from './providers.js';
import { timeoutFromEnv } from './chat.js';

/** An example app built around the chat engine. */
export interface ExampleApp {
  handler: http.RequestListener;
  close(): void;
}

/** Starts `build`'s app on PORT (default 3000) with providers from the environment. */
export async function serveExample(
  name: string,
  build: (chat: ChatEngine, options: { timeoutMs?: number }) => ExampleApp,
): Promise<void> {
  const providers = await providersFromEnv();
  const chat = createChatEngine(providers);
  const timeoutMs = timeoutFromEnv();
  const app = build(chat, timeoutMs ? { timeoutMs } : {});
  const port = Number(process.env.PORT ?? 3000);
  const server = http.createServer(app.handler).listen(port, () => {
    console.log(`${name} on http://localhost:${port} (POST /v1/chat, POST /v1/chat/stream)`);
    if (providers.fakes.length > 0)
      console.log(`fake providers in use: ${providers.fakes.map((f) => f.origin).join(', ')}`);
  });
  const stop = async (): Promise<void> => {
    server.close();
    app.close();
    await chat.close();
    await providers.close();
  };
  process.once('SIGINT', stop).once('SIGTERM', stop);
}
