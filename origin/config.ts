/**
 * The origin's whole configuration, parsed once from the environment (API.md §8). Every missing or
 * malformed variable is reported at once, one line each, so one failed start names them all.
 */
import { readFileSync } from 'node:fs'
import { z } from 'zod'

/** Settings that may come from `NAME_FILE` (Docker/K8s secrets): the secrets, and the URLs holding passwords. */
const FILE_NAMES = [
  'DATABASE_URL',
  'DATABASE_READ_URL',
  'REDIS_URL',
  'JWT_SECRET',
  'EDGE_SIGNING_KEYS',
  'METRICS_TOKEN',
  'WECHAT_APP_SECRET',
  'WECHAT_MCH_PRIVATE_KEY',
  'WECHAT_APIV3_KEY',
  'WECHAT_PAY_PUBLIC_KEY',
  'PHONE_ENCRYPTION_KEYS',
] as const

const port = z.coerce.number({ error: 'must be a port number (1-65535)' }).int().min(1).max(65535)
const positiveSeconds = z.coerce
  .number()
  .int()
  .min(1)
  .max(365 * 24 * 3600)
const mysqlUrl = z
  .string()
  .regex(/^mysql:\/\/.+\/[A-Za-z0-9_]{1,64}(\?.*)?$/, 'must be mysql://user[:pass]@host:port/database')
const pem = z.string().includes('-----BEGIN', { message: 'must be a PEM block' })

const edgeKeys = z
  .string()
  .min(1)
  .transform((text, ctx) => {
    const keys = new Map<string, string>()
    for (const pair of text.split(',')) {
      const at = pair.indexOf(':')
      const kid = pair.slice(0, at).trim()
      const secret = pair.slice(at + 1).trim()
      if (at <= 0 || !/^[A-Za-z0-9_.-]{1,32}$/.test(kid) || secret.length < 16) {
        ctx.addIssue({
          code: 'custom',
          message: 'must be kid:secret[,kid:secret] with secrets of 16+ characters',
        })
        return z.NEVER
      }
      keys.set(kid, secret)
    }
    return keys
  })

const fieldKeys = z
  .string()
  .min(1)
  .transform((text, ctx) => {
    const keys = new Map<string, Buffer>()
    for (const pair of text.split(',')) {
      const at = pair.indexOf(':')
      const kid = pair.slice(0, at).trim()
      const key = Buffer.from(pair.slice(at + 1).trim(), 'base64')
      if (at <= 0 || !/^[A-Za-z0-9_.-]{1,32}$/.test(kid) || key.length !== 32) {
        ctx.addIssue({ code: 'custom', message: 'must be kid:base64-of-32-bytes[,kid:key] (first encrypts)' })
        return z.NEVER
      }
      keys.set(kid, key)
    }
    return keys
  })

const csv = z
  .string()
  .default('')
  .transform((text) =>
    text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )

const schema = z.object({
  PORT: port.default(3000),
  HOST: z.string().default('0.0.0.0'),
  DATABASE_URL: mysqlUrl,
  DATABASE_READ_URL: mysqlUrl.optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(16),
  /**
   * Group commit of payments (issue 16): at most this many payments share one transaction; 1 turns
   * batching off. Batches in flight at once per process, and how long a lone payment waits for
   * company (0: only what arrived in the same turn of the event loop).
   */
  PAYMENT_BATCH_MAX: z.coerce.number().int().min(1).max(500).default(64),
  PAYMENT_BATCH_IN_FLIGHT: z.coerce.number().int().min(1).max(64).default(2),
  PAYMENT_BATCH_WAIT_MS: z.coerce.number().int().min(0).max(50).default(0),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be redis://host:port')
    .default('redis://127.0.0.1:6379'),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters'),
  EDGE_SIGNING_KEYS: edgeKeys,
  ADMIN_OPENIDS: csv,
  PHONE_ENCRYPTION_KEYS: fieldKeys,
  PUBLIC_BASE_URL: z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, '')),
  NODE_ENV: z.string().default('development'),
  METRICS_TOKEN: z.string().min(1).optional(),
  /** Points one merchant may grant per Asia/Shanghai day, over all its grants (API.md §16). */
  GRANT_DAILY_MAX_POINTS: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(100_000),
  /** Points one user may put into gifts per Asia/Shanghai day, cancelled gifts included (API.md §14). */
  GIFT_DAILY_MAX_POINTS: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(10_000),
  ORDER_TTL_SECONDS: positiveSeconds.default(900),
  GIFT_TTL_SECONDS: positiveSeconds.default(86400),
  /** How long credited points live (API.md §14); 0: they never expire. At most 100 years. */
  POINTS_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(100 * 365 * 24 * 3600)
    .default(31_536_000),
  /** Lots expiring within this long count as `expiringSoon` and get the expiring message. */
  POINTS_EXPIRY_NOTICE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(10 * 365 * 24 * 3600)
    .default(30 * 24 * 3600),
  /** Under the edge's ORIGIN_TIMEOUT_MS (10 s), so the client gets the origin's clean 503. */
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(8000),
  /** How long a stopping origin keeps accepting after /ready turns 503, so load balancers stop sending first. */
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).max(8000).default(3000),
  JOB_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(5000),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  WECHAT_APPID: z.string().min(1).max(32),
  WECHAT_APP_SECRET: z.string().min(1),
  WECHAT_MCHID: z.string().min(1).max(32),
  WECHAT_MCH_SERIAL_NO: z.string().regex(/^[0-9A-Fa-f]{8,64}$/, 'must be the certificate serial in hex'),
  WECHAT_MCH_PRIVATE_KEY: pem,
  WECHAT_APIV3_KEY: z.string().length(32, 'must be exactly 32 characters'),
  WECHAT_PAY_PUBLIC_KEY: pem,
  WECHAT_PAY_PUBLIC_KEY_ID: z.string().min(1),
  WECHAT_PAY_BASE_URL: z.url().default('https://api.mch.weixin.qq.com'),
  WECHAT_API_BASE_URL: z.url().default('https://api.weixin.qq.com'),
  /** API.md §11: partner = service provider paying each merchant's sub-merchant account. */
  WECHAT_PAY_MODE: z.enum(['direct', 'partner']).default('direct'),
  /** Local stacks only (`npm run dev`): approval gives a merchant a made-up sub-merchant id. */
  DEV_ASSIGN_SUB_MCHID: z.stringbool().default(false),
  /** Subscribe-message templates (API.md §15); an unset one is not sent. */
  WECHAT_TEMPLATE_POINTS_EARNED: z.string().min(1).max(128).optional(),
  WECHAT_TEMPLATE_GIFT_CLAIMED: z.string().min(1).max(128).optional(),
  WECHAT_TEMPLATE_POINTS_EXPIRING: z.string().min(1).max(128).optional(),
})

export type OriginConfig = z.infer<typeof schema>
export type Env = Record<string, string | undefined>

/** `NAME_FILE=/path` supplies NAME from a file; an unreadable file is a problem of its own. */
function resolveFiles(env: Env, problems: Map<string, string>): Env {
  const out: Env = { ...env }
  for (const name of FILE_NAMES) {
    const file = env[`${name}_FILE`]
    if (!file || env[name]) continue
    try {
      out[name] = readFileSync(file, 'utf8').trim()
    } catch (err) {
      problems.set(
        `${name}_FILE`,
        `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}: ${file})`,
      )
    }
  }
  return out
}

/** Blank values count as unset, so `FOO=` in an env file falls back to the default. */
function dropBlank(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
}

/** Carries one `configuration: NAME problem` line per bad variable, in `problems` and in the message. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'))
  }
}

export function loadConfig(env: Env = process.env): OriginConfig {
  const problems = new Map<string, string>()
  const resolved = dropBlank(resolveFiles(env, problems))
  const parsed = schema.safeParse(resolved)
  // In production /metrics is never open: it names routes, volumes and error rates.
  if (resolved.NODE_ENV === 'production' && !resolved.METRICS_TOKEN && !problems.has('METRICS_TOKEN_FILE'))
    problems.set('METRICS_TOKEN', 'is not set (required when NODE_ENV=production)')
  if (parsed.success && problems.size === 0) return parsed.data
  for (const issue of parsed.error?.issues ?? []) {
    const name = String(issue.path[0] ?? 'environment')
    // A variable whose _FILE could not be read is already reported; the first issue per name is enough.
    if (problems.has(name) || problems.has(`${name}_FILE`)) continue
    problems.set(name, resolved[name] === undefined ? 'is not set' : issue.message)
  }
  throw new ConfigError([...problems].map(([name, problem]) => `configuration: ${name} ${problem}`))
}
