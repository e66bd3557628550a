/** Starts the Koa chat app on PORT (default 3000); see ../../docs/adapters.md. */
import { serveExample } from '@breakwater/example-shared';
import { createApp } from './app.js';

await serveExample('koa-chat', (chat, options) => {
  const { app, close } = createApp(chat, options);
  return { handler: app.callback(), close };
});
