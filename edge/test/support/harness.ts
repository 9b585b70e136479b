/**
 * Starts the pieces an edge test talks to. `startOrigin` is the one place that decides which origin
 * the edge fronts: today the echo origin, later the real one (then `received` is undefined and the
 * "origin was not called" checks are skipped).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sign } from 'hono/jwt'
import { inject } from 'vitest'
import { unstable_startWorker } from 'wrangler'
import { startBridge } from '../../../ops/upstash-bridge.ts'
import { freePort } from '../../../test/harness/ports.ts'
import { REDIS_URL } from '../../../test/harness/stack.ts'
import { type ReceivedRequest, startEchoOrigin } from './echo-origin.ts'

export type Runtime = 'workerd' | 'deno'

export const SIGNING_KEY_ID = 'test1'
export const SIGNING_SECRET = 'edge-test-signing-secret'
export const JWT_SECRET = 'edge-test-jwt-secret-of-at-least-32-characters'

export interface OriginHandle {
  url: string
  received: ReceivedRequest[] | undefined
  close(): Promise<void>
}

export interface EdgeHandle {
  url: string
  /** What the edge printed so far: Deno's stdout and stderr (workerd's goes through wrangler's logger). */
  output(): string
  close(): Promise<void>
}

export async function startOrigin(): Promise<OriginHandle> {
  return startEchoOrigin(SIGNING_KEY_ID, SIGNING_SECRET)
}

/** A URL nothing listens on: a port that was free a moment ago. */
export async function deadUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`
}

export function edgeEnv(originUrl: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ORIGIN_URL: originUrl,
    UPSTASH_REDIS_REST_URL: inject('upstashUrl'),
    UPSTASH_REDIS_REST_TOKEN: inject('upstashToken'),
    JWT_SECRET,
    EDGE_SIGNING_KEY_ID: SIGNING_KEY_ID,
    EDGE_SIGNING_SECRET: SIGNING_SECRET,
    ...overrides,
  }
}

export interface OwnRedis {
  /** Edge settings pointing at this database's bridge. */
  env: { UPSTASH_REDIS_REST_URL: string; UPSTASH_REDIS_REST_TOKEN: string }
  close(): Promise<void>
}

/**
 * A Redis database (of the machine's Redis) behind a bridge of its own, for Deno edges whose callers
 * are all 127.0.0.1: their counters must not spend the budget that other files count exactly.
 */
export async function ownRedis(db: number): Promise<OwnRedis> {
  const token = `own-${crypto.randomUUID()}`
  const bridge = await startBridge({ port: 0, token, redisUrl: `${REDIS_URL}/${db}` })
  return {
    env: { UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: token },
    close: () => bridge.close(),
  }
}

export function startEdge(runtime: Runtime, env: Record<string, string>): Promise<EdgeHandle> {
  // workerd here stands for a Cloudflare deploy, where CF-Connecting-IP is the real peer; tests use
  // it to be many callers. A test of the local default says TRUST_CF_CONNECTING_IP=false itself.
  return runtime === 'workerd' ? startWorkerd({ TRUST_CF_CONNECTING_IP: 'true', ...env }) : startDeno(env)
}

/** The edge in workerd; `logLevel: 'log'` lets the worker's console reach this process's console. */
export async function startWorkerd(
  env: Record<string, string>,
  { logLevel = 'error' }: { logLevel?: 'error' | 'log' } = {},
): Promise<EdgeHandle> {
  process.env.CLOUDFLARE_CF_FETCH_ENABLED = 'false'
  process.env.WRANGLER_SEND_METRICS = 'false'
  const worker = await unstable_startWorker({
    config: 'wrangler.toml',
    bindings: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, { type: 'plain_text', value: v }])),
    dev: {
      server: { hostname: '127.0.0.1', port: 0 },
      inspector: false,
      watch: false,
      persist: false,
      logLevel,
    },
  })
  await worker.ready
  const url = (await worker.url).origin
  return { url, output: () => '', close: () => worker.dispose() }
}

async function startDeno(env: Record<string, string>): Promise<EdgeHandle> {
  const port = await freePort()
  // A fresh DENO_DIR: Deno's Cache API persists on disk and would otherwise outlive the run.
  const denoDir = mkdtempSync(join(tmpdir(), 'edge-deno-'))
  const child: ChildProcess = spawn(
    'node_modules/.bin/deno',
    ['run', '--allow-net', '--allow-env', '--allow-read', 'edge/deno.ts'],
    {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...env,
        EDGE_PORT: String(port),
        EDGE_HOST: '127.0.0.1',
        DENO_DIR: denoDir,
        DENO_NO_UPDATE_CHECK: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  child.stdout?.on('data', (d) => {
    output += d
  })
  child.stderr?.on('data', (d) => {
    output += d
  })
  const exited = new Promise((r) => child.once('exit', r))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`deno edge did not start:\n${output}`)), 30_000)
    child.stdout?.on('data', () => {
      if (output.includes('listening')) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`deno edge exited with ${code}:\n${output}`))
    })
  })
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => output,
    async close() {
      child.kill('SIGTERM')
      await exited
      rmSync(denoDir, { recursive: true, force: true })
    },
  }
}

export function tokenFor(
  sub: string,
  options: { expiresInS?: number; secret?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return sign(
    { sub, roles: ['user'], merchantId: null, iat: now, exp: now + (options.expiresInS ?? 600) },
    options.secret ?? JWT_SECRET,
    'HS256',
  )
}

/** A token claiming `alg: none`, which a verifier that trusts the header would accept. */
export function unsignedToken(sub: string): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const now = Math.floor(Date.now() / 1000)
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub, exp: now + 600, iat: now })}.`
}

export function randomIp(): string {
  const octet = () => Math.floor(Math.random() * 254) + 1
  return `10.${octet()}.${octet()}.${octet()}`
}
