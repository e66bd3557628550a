/** Starts the Express chat app on PORT (default 3000); see ../../docs/adapters.md. */
import { serveExample } from '@breakwater/example-shared';
import { createApp } from './app.js';

await serveExample('express-chat', (chat, options) => {
  const { app, close } = createApp(chat, options);
  return { handler: app, close };
});
