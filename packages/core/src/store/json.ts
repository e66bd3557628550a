/** Parses a stored value; undefined when it is not JSON (a foreign or damaged key). */
export function parseJson<T>(raw: string): T | undefined {
  try {
    return JSON.parse(raw) as T;
  } catch {
    return undefined;
  }
}
