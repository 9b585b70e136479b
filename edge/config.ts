/**
 * Edge settings from the environment (API.md §8). Parsed once per isolate; every missing or
 * malformed variable is named at once, one line each, so a bad deploy is obvious from its first log.
 *
 * Checked by hand rather than with zod: even zod/mini brings its locale tables into the Worker
 * (≈ 430 KiB of a 560 KiB bundle), for a dozen strings and numbers.
 */

/** A check of one variable: its value, or the problem to report after the variable's name. */
type Field<T> = (raw: string | undefined) => { ok: true; value: T } | { ok: false; problem: string }

const REQUIRED = 'is required'

const required =
  (test?: (v: string) => boolean, problem = REQUIRED): Field<string> =>
  (raw) =>
    raw === undefined
      ? { ok: false, problem: REQUIRED }
      : !test || test(raw)
        ? { ok: true, value: raw }
        : { ok: false, problem }

const optional =
  <T extends string>(fallback: T, allowed?: readonly T[], problem = 'is malformed'): Field<T> =>
  (raw) =>
    raw === undefined
      ? { ok: true, value: fallback }
      : !allowed || allowed.includes(raw as T)
        ? { ok: true, value: raw as T }
        : { ok: false, problem }

const positiveInt =
  (fallback: number): Field<number> =>
  (raw) => {
    if (raw === undefined) return { ok: true, value: fallback }
    const value = Number(raw)
    return Number.isSafeInteger(value) && value > 0
      ? { ok: true, value }
      : { ok: false, problem: 'must be a positive integer' }
  }

function isHttpUrl(raw: string): boolean {
  try {
    const url = new URL(raw)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== ''
  } catch {
    return false
  }
}
const httpUrl = required(isHttpUrl, 'must be an http(s) URL')

const fields = {
  ORIGIN_URL: httpUrl,
  UPSTASH_REDIS_REST_URL: httpUrl,
  UPSTASH_REDIS_REST_TOKEN: required(),
  JWT_SECRET: required(),
  // The origin reads EDGE_SIGNING_KEYS as `kid:secret[,kid:secret]`, so a kid cannot hold ':' or ','.
  EDGE_SIGNING_KEY_ID: required((v) => /^[A-Za-z0-9_-]+$/.test(v), 'must match [A-Za-z0-9_-]+'),
  EDGE_SIGNING_SECRET: required(),
  RATE_LIMIT_IP_MAX: positiveInt(1000),
  RATE_LIMIT_IP_WINDOW_S: positiveInt(900),
  RATE_LIMIT_LOGIN_MAX: positiveInt(20),
  RATE_LIMIT_WRITE_MAX: positiveInt(60),
  CACHE_TTL_S: positiveInt(30),
  ORIGIN_TIMEOUT_MS: positiveInt(10_000),
  REDIS_TIMEOUT_MS: positiveInt(500),
  EDGE_PORT: positiveInt(8787),
  // Only Cloudflare's own front end overwrites CF-Connecting-IP; anywhere else a client chooses it.
  TRUST_CF_CONNECTING_IP: optional('false', ['true', 'false'] as const, 'must be true or false'),
  // Deno only (workerd's address is wrangler's business): 127.0.0.1 keeps a dev edge off the network.
  EDGE_HOST: optional('0.0.0.0'),
  // `npm run dev` only: the console's login page offers "approve as <openid>" (sandbox logins).
  CONSOLE_DEV_LOGIN: optional('false', ['true', 'false'] as const, 'must be true or false'),
  // Deno only: the bearer Prometheus sends to GET /metrics; unset, the edge serves no /metrics.
  METRICS_TOKEN: ((raw) => ({ ok: true, value: raw })) as Field<string | undefined>,
}

export type EdgeConfig = {
  [K in keyof typeof fields]: (typeof fields)[K] extends Field<infer T> ? T : never
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

/** Empty strings count as unset, so `FOO=` in a .env behaves like a missing FOO. */
export function parseConfig(env: Record<string, unknown>): EdgeConfig {
  const config: Record<string, unknown> = {}
  const problems: string[] = []
  for (const [name, field] of Object.entries(fields) as Array<[string, Field<unknown>]>) {
    const raw = env[name]
    const result = field(raw === undefined || raw === '' ? undefined : String(raw))
    if (result.ok) config[name] = result.value
    else problems.push(`edge configuration: ${name} ${result.problem}`)
  }
  if (problems.length) throw new ConfigError(problems.join('\n'))
  return config as EdgeConfig
}
