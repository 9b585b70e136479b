/**
 * A local stand-in for Upstash's REST API in front of a plain Redis, so the edge code (which only
 * speaks Upstash REST) runs unchanged against the machine's Redis in dev and tests. It plays the
 * role Upstash plays in production, here and in docker-compose; see EDGE.md §2 for the protocol
 * details it follows.
 *
 * CLI: `tsx ops/upstash-bridge.ts` with BRIDGE_PORT (8079), BRIDGE_TOKEN (required), REDIS_URL and
 * BRIDGE_HOST (127.0.0.1; 0.0.0.0 in docker-compose, where the edge reaches it over the network).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { pathToFileURL } from 'node:url'
import { Redis } from 'ioredis'

export interface BridgeOptions {
  port: number
  token: string
  redisUrl: string
  host?: string
}

export interface Bridge {
  url: string
  close(): Promise<void>
}

type Reply = { result: unknown } | { error: string }

const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379'
const MAX_BODY_BYTES = 64 * 1024 * 1024

class BadRequest extends Error {}

// Redis's own error replies are the caller's fault (400, as on Upstash); anything else is ours (500).
const isRedisReply = (err: unknown) => err instanceof Error && err.name === 'ReplyError'

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex')

/**
 * Upstash accepts the `allow-key-locking` shebang flag (used by @upstash/ratelimit); Redis rejects
 * it. Drop that flag and keep any other, so the same script runs on both.
 */
export function stripUpstashScriptFlags(script: string): string {
  const match = /^#!lua(?:[ \t]+flags=([^\n]*))?[ \t]*\n/.exec(script)
  if (!match) return script
  const flags = (match[1] ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter((f) => f && f !== 'allow-key-locking')
  const rest = script.slice(match[0].length)
  return flags.length ? `#!lua flags=${flags.join(',')}\n${rest}` : rest
}

function toArg(value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value)
  if (value === null || value === undefined) return ''
  return JSON.stringify(value)
}

/** The SDK decodes every string as base64 when it asked for that encoding; numbers and null stay raw. */
function encode(value: unknown, base64: boolean): unknown {
  if (Buffer.isBuffer(value)) return base64 ? value.toString('base64') : value.toString('utf8')
  if (typeof value === 'string') return base64 ? Buffer.from(value).toString('base64') : value
  if (Array.isArray(value)) return value.map((v) => encode(v, base64))
  if (value instanceof Error) return value.message
  return value
}

function parseCommand(raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new BadRequest('Invalid command array')
  return raw.map(toArg)
}

function parseCommands(raw: unknown): string[][] {
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every(Array.isArray))
    throw new BadRequest('Invalid command array, expected an array of command arrays')
  return raw.map(parseCommand)
}

function createScriptRewriter() {
  // sha1(script as the client sent it) → sha1(script as Redis stores it), for EVALSHA.
  const shaMap = new Map<string, string>()
  const remember = (script: string) => {
    const stripped = stripUpstashScriptFlags(script)
    if (stripped !== script) shaMap.set(sha1(script), sha1(stripped))
    return stripped
  }
  return (args: string[]): { args: string[]; reply?: (r: unknown) => unknown } => {
    const [name = '', ...rest] = args
    // Upper case also keeps ioredis from applying its reply transformers (hgetall → object, …).
    const upper = name.toUpperCase()
    if ((upper === 'EVAL' || upper === 'EVAL_RO') && rest[0] !== undefined)
      return { args: [upper, remember(rest[0]), ...rest.slice(1)] }
    if ((upper === 'EVALSHA' || upper === 'EVALSHA_RO') && rest[0] !== undefined)
      return { args: [upper, shaMap.get(rest[0].toLowerCase()) ?? rest[0], ...rest.slice(1)] }
    if (upper === 'SCRIPT' && rest[0]?.toUpperCase() === 'LOAD' && rest[1] !== undefined) {
      const original = rest[1]
      return { args: [upper, 'LOAD', remember(original)], reply: () => sha1(original) }
    }
    return { args: [upper, ...rest] }
  }
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new BadRequest('Request body too large')
    chunks.push(chunk as Buffer)
  }
  // Concatenate before decoding so a multi-byte UTF-8 character split across chunks survives.
  const text = Buffer.concat(chunks).toString('utf8')
  try {
    return JSON.parse(text)
  } catch {
    throw new BadRequest('Invalid JSON body')
  }
}

function authorized(req: IncomingMessage, url: URL, token: string): boolean {
  const header = req.headers.authorization ?? ''
  const given = header.startsWith('Bearer ') ? header.slice(7) : (url.searchParams.get('_token') ?? '')
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

function send(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const redis = new Redis(options.redisUrl, { protocol: 2, maxRetriesPerRequest: 1, lazyConnect: true })
  redis.on('error', () => {
    // Connection errors surface per command as 500s; ioredis keeps reconnecting in the background.
  })
  const rewrite = createScriptRewriter()

  async function runOne(args: string[]): Promise<Reply> {
    const { args: sent, reply } = rewrite(args)
    const [name = '', ...rest] = sent
    try {
      const result = await redis.callBuffer(name, rest)
      return { result: reply ? reply(result) : result }
    } catch (err) {
      if (isRedisReply(err)) return { error: (err as Error).message }
      throw err
    }
  }

  async function runTransaction(commands: string[][]): Promise<Reply[]> {
    const multi = redis.multi()
    const replies: Array<Reply | undefined> = []
    for (const command of commands) {
      const { args, reply } = rewrite(command)
      const [name = '', ...rest] = args
      multi.callBuffer(name, rest)
      replies.push(reply ? { result: reply(undefined) } : undefined)
    }
    const results =
      (await multi.exec().catch((err) => {
        throw isRedisReply(err) ? new BadRequest(err.message) : err
      })) ?? []
    return results.map(([err, result], i) =>
      err ? { error: err.message } : (replies[i] ?? { result: result as unknown }),
    )
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://bridge')
    if (req.method === 'GET' && url.pathname === '/') return send(res, 200, { result: 'OK' })
    if (!authorized(req, url, options.token)) return send(res, 401, { error: 'Unauthorized' })
    if (req.method !== 'POST') return send(res, 405, { error: 'Method not allowed' })
    const base64 = String(req.headers['upstash-encoding'] ?? '').includes('base64')
    const body = await readBody(req)
    if (url.pathname === '/') {
      const reply = await runOne(parseCommand(body))
      return 'error' in reply
        ? send(res, 400, reply)
        : send(res, 200, { result: encode(reply.result, base64) })
    }
    let replies: Reply[]
    if (url.pathname === '/pipeline') {
      replies = []
      for (const command of parseCommands(body)) replies.push(await runOne(command))
    } else if (url.pathname === '/multi-exec') {
      replies = await runTransaction(parseCommands(body))
    } else {
      return send(res, 404, { error: 'Endpoint not found' })
    }
    send(
      res,
      200,
      replies.map((r) => ('error' in r ? r : { result: encode(r.result, base64) })),
    )
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      if (res.headersSent) return res.destroy()
      send(res, err instanceof BadRequest ? 400 : 500, { error: err.message })
    })
  })
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, host, resolve)
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${host}:${port}`,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      redis.disconnect()
    },
  }
}

async function main() {
  const token = process.env.BRIDGE_TOKEN
  if (!token) {
    console.error('upstash-bridge: BRIDGE_TOKEN is required')
    process.exit(1)
  }
  const bridge = await startBridge({
    port: Number(process.env.BRIDGE_PORT ?? 8079),
    token,
    redisUrl: process.env.REDIS_URL ?? DEFAULT_REDIS_URL,
    host: process.env.BRIDGE_HOST || undefined,
  })
  console.log(`upstash-bridge: listening on ${bridge.url}`)
  const stop = () => bridge.close().then(() => process.exit(0))
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main()
