/**
 * Edge settings from the environment (API.md §8). Parsed once per isolate; every missing or
 * malformed variable is named at once, one line each, so a bad deploy is obvious from its first log.
 */
// zod/mini: the same schemas at a fraction of the bundle (the full zod is ~780 KiB of the worker).
import { z } from 'zod/mini'

const positiveInt = (fallback: number) =>
  z._default(
    z.pipe(
      z.coerce.number(),
      z.int({ error: 'must be a positive integer' }).check(z.positive('must be a positive integer')),
    ),
    fallback,
  )
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
const required = z.string({ error: 'is required' }).check(z.minLength(1, 'is required'))

const schema = z.object({
  ORIGIN_URL: httpUrl,
  UPSTASH_REDIS_REST_URL: httpUrl,
  UPSTASH_REDIS_REST_TOKEN: required,
  JWT_SECRET: required,
  // The origin reads EDGE_SIGNING_KEYS as `kid:secret[,kid:secret]`, so a kid cannot hold ':' or ','.
  EDGE_SIGNING_KEY_ID: z
    .string({ error: 'is required' })
    .check(z.minLength(1, 'is required'), z.regex(/^[A-Za-z0-9_-]+$/, 'must match [A-Za-z0-9_-]+')),
  EDGE_SIGNING_SECRET: required,
  RATE_LIMIT_IP_MAX: positiveInt(1000),
  RATE_LIMIT_IP_WINDOW_S: positiveInt(900),
  RATE_LIMIT_LOGIN_MAX: positiveInt(20),
  RATE_LIMIT_WRITE_MAX: positiveInt(60),
  CACHE_TTL_S: positiveInt(30),
  ORIGIN_TIMEOUT_MS: positiveInt(10_000),
  REDIS_TIMEOUT_MS: positiveInt(500),
  EDGE_PORT: positiveInt(8787),
  // Only Cloudflare's own front end overwrites CF-Connecting-IP; anywhere else a client chooses it.
  TRUST_CF_CONNECTING_IP: z._default(z.enum(['true', 'false'], { error: 'must be true or false' }), 'false'),
  // Deno only (workerd's address is wrangler's business): 127.0.0.1 keeps a dev edge off the network.
  EDGE_HOST: z._default(z.string().check(z.minLength(1)), '0.0.0.0'),
  // `npm run dev` only: the console's login page offers "approve as <openid>" (sandbox logins).
  CONSOLE_DEV_LOGIN: z._default(z.enum(['true', 'false'], { error: 'must be true or false' }), 'false'),
  // Deno only: the bearer Prometheus sends to GET /metrics; unset, the edge serves no /metrics.
  METRICS_TOKEN: z.optional(z.string()),
})

export type EdgeConfig = z.output<typeof schema>

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Empty strings count as unset, so `FOO=` in a .env behaves like a missing FOO. */
export function parseConfig(env: Record<string, unknown>): EdgeConfig {
  const cleaned = Object.fromEntries(
    Object.keys(schema.shape).map((name) => [name, env[name] === '' ? undefined : env[name]]),
  )
  const result = schema.safeParse(cleaned)
  if (result.success) return result.data
  const problems = new Map<string, string>()
  for (const issue of result.error.issues) {
    const name = String(issue.path[0])
    if (!problems.has(name)) problems.set(name, cleaned[name] === undefined ? 'is required' : issue.message)
  }
  throw new ConfigError(
    [...problems].map(([name, problem]) => `edge configuration: ${name} ${problem}`).join('\n'),
  )
}
