import type { CachedResponse, CacheStore } from './store.ts'

/** Per-isolate tier: answers repeats without touching the (slower) Cache API. */
export class MemoryCacheStore implements CacheStore {
  private readonly entries = new Map<string, CachedResponse>()

  constructor(
    private readonly now: () => number,
    private readonly maxEntries = 1_000,
  ) {}

  async get(key: string): Promise<CachedResponse | undefined> {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key)
      return undefined
    }
    return entry
  }

  async put(key: string, entry: CachedResponse): Promise<void> {
    this.entries.delete(key)
    this.entries.set(key, entry)
    // Map keeps insertion order, so the first key is the oldest write.
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break
      this.entries.delete(oldest)
    }
  }
}
