import type { RateLimitDecision, RateLimiter, RateLimitRule } from './limiter.ts'

/** The calls the limiter needs (edge/redis-rest.ts). */
export interface ScriptRunner {
  evalsha(sha1: string, keys: string[], args: string[]): Promise<unknown>
  eval(script: string, keys: string[], args: string[]): Promise<unknown>
}

// Fixed windows, all counters of a request in one atomic script: one round trip per request, and
// exact under any concurrency because Redis runs scripts one at a time. Plain Lua with no shebang
// flags, so Upstash, SRH and plain Redis behind the bridge all accept it.
// KEYS[i] is a counter, ARGV[2i-1] its limit, ARGV[2i] its window in ms, for i up to #ARGV / 2; a
// key beyond those is only read (GET), in the same round trip.
// Returns {allowed, count1, pttl1, count2, pttl2, …[, value read or nil]}.
export const RATE_LIMIT_SCRIPT = `
local n = #ARGV / 2
local counts = {}
local allowed = 1
for i = 1, n do
  counts[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
  if counts[i] >= tonumber(ARGV[2 * i - 1]) then allowed = 0 end
end
local out = {allowed}
for i = 1, n do
  local window = tonumber(ARGV[2 * i])
  if allowed == 1 then
    counts[i] = redis.call('INCR', KEYS[i])
    if counts[i] == 1 then redis.call('PEXPIRE', KEYS[i], window) end
  end
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl < 0 then ttl = window end
  out[#out + 1] = counts[i]
  out[#out + 1] = ttl
end
if #KEYS > n then out[#out + 1] = redis.call('GET', KEYS[n + 1]) end
return out
`

async function sha1Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-1', new TextEncoder().encode(text))
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
}

export class RedisRateLimiter implements RateLimiter {
  private readonly scriptSha = sha1Hex(RATE_LIMIT_SCRIPT)

  constructor(private readonly redis: ScriptRunner) {}

  /** EVALSHA sends 40 characters instead of the script; EVAL (which caches it) only after NOSCRIPT. */
  private async run(keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(await this.scriptSha, keys, args)
    } catch (err) {
      if (!String((err as Error)?.message).includes('NOSCRIPT')) throw err
      return this.redis.eval(RATE_LIMIT_SCRIPT, keys, args)
    }
  }

  async check(rules: RateLimitRule[], alsoRead?: string): Promise<RateLimitDecision> {
    const args = rules.flatMap((r) => [String(r.limit), String(r.windowS * 1000)])
    const keys = rules.map((r) => r.key)
    if (alsoRead !== undefined) keys.push(alsoRead)
    const reply = await this.run(keys, args)
    // Redis drops a trailing nil from a script's array reply: a missing key read shortens it by one.
    const counted = 1 + 2 * rules.length
    if (
      !Array.isArray(reply) ||
      reply.length < counted ||
      reply.length > counted + (alsoRead === undefined ? 0 : 1)
    )
      throw new Error(`unexpected rate-limit script reply: ${JSON.stringify(reply)}`)
    const numbers = reply.slice(0, counted).map(Number)
    const decision: RateLimitDecision = {
      allowed: numbers[0] === 1,
      counters: rules.map((rule, i) => ({ rule, count: numbers[1 + 2 * i]!, resetMs: numbers[2 + 2 * i]! })),
    }
    if (alsoRead !== undefined) {
      const value = reply[counted]
      decision.read = value === undefined || value === null ? null : String(value)
    }
    return decision
  }
}
