/**
 * JSON with object keys sorted at every level, so two values that are equal by content
 * give the same string whatever order their keys were written in: what configs are
 * compared by (a resumed run against its checkpoint) and what content hashes are taken of.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** The sha256 of `canonicalJson(value)`, as lowercase hex (Web Crypto: browsers, workers and Node). */
export async function contentHash(value: unknown): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonicalJson(value)));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
