/** The answer a fake provider gives: fixed text, or text computed from the request body. */
export type Reply = string | ((request: Record<string, unknown>) => string);

/** The default answer. */
export const DEFAULT_REPLY = 'Hello from the fake provider. Breakwater kept this answer coming.';

/** The text of the answer for a request. */
export function replyText(reply: Reply | undefined, request: Record<string, unknown>): string {
  if (reply === undefined) return DEFAULT_REPLY;
  return typeof reply === 'function' ? reply(request) : reply;
}

/** Splits an answer into stream chunks of `size` words (spaces kept, so chunks join back). */
export function splitChunks(text: string, size = 1): string[] {
  const words = text.split(/(?<= )/);
  const chunks: string[] = [];
  for (let i = 0; i < words.length; i += size) chunks.push(words.slice(i, i + size).join(''));
  return chunks.length > 0 ? chunks : [''];
}
