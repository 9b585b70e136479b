/**
 * The Redis key the origin increments whenever a merchant's public page changes (status, profile,
 * rule) and the edge reads into its cache key: the origin's way to purge every edge cache at once.
 * The origin's REDIS_URL and the edge's Upstash database must therefore be the same Redis.
 */
export const merchantPageVersionKey = (merchantId: string) => `edge:merchant-version:${merchantId}`
