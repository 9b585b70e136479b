import type { CachedResponse, CacheStore } from './store.ts'

/**
 * Memory first, then the shared tier. A failing tier is a miss (and a skipped write), never an
 * error: the cache may only make the edge faster, not break it.
 */
export class TieredCacheStore implements CacheStore {
  constructor(
    private readonly tiers: CacheStore[],
    private readonly log: (line: string) => void = console.error,
  ) {}

  async get(key: string): Promise<CachedResponse | undefined> {
    for (const [i, tier] of this.tiers.entries()) {
      const entry = await tier.get(key).catch((err) => this.fail('read', err))
      if (!entry) continue
      await Promise.all(
        this.tiers.slice(0, i).map((upper) => upper.put(key, entry).catch((e) => this.fail('write', e))),
      )
      return entry
    }
    return undefined
  }

  async put(key: string, entry: CachedResponse): Promise<void> {
    await Promise.all(this.tiers.map((tier) => tier.put(key, entry).catch((err) => this.fail('write', err))))
  }

  private fail(what: string, err: unknown): undefined {
    this.log(`edge: cache ${what} failed, bypassing: ${(err as Error).message}`)
    return undefined
  }
}
