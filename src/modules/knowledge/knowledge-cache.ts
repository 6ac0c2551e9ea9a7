// An in-process cache of segment CIPHERTEXT, keyed by segment id. Segments are immutable once
// written (a re-index writes new rows with new ids), so an entry can never be stale; a removed
// segment is simply no longer listed by the folder query, and its entry ages out. Only what
// PostgreSQL already holds is cached: every search still decrypts what it scores, so the cache
// saves the database round trip of tens of MB (hex-encoded bytea) and never holds plaintext.
export function createCiphertextCache(maxBytes: number) {
  const entries = new Map<string, Buffer>();
  let bytes = 0;
  return {
    get(id: string): Buffer | undefined {
      const hit = entries.get(id);
      if (hit) {
        // Map order is insertion order: re-inserting marks it most recently used.
        entries.delete(id);
        entries.set(id, hit);
      }
      return hit;
    },
    set(id: string, value: Buffer): void {
      if (value.length > maxBytes) return;
      const old = entries.get(id);
      if (old) {
        bytes -= old.length;
        entries.delete(id);
      }
      entries.set(id, value);
      bytes += value.length;
      while (bytes > maxBytes) {
        const [oldestId, oldest] = entries.entries().next().value as [string, Buffer];
        entries.delete(oldestId);
        bytes -= oldest.length;
      }
    },
    get bytes() { return bytes; },
    clear() { entries.clear(); bytes = 0; },
  };
}

export type CiphertextCache = ReturnType<typeof createCiphertextCache>;
