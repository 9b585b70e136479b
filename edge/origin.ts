import type { Context } from 'hono'
import { EDGE_HEADERS, edgeSignatureHeaders } from '../shared/edge-signing.ts'
import { AppError } from '../shared/errors.ts'
import { REQUEST_ID_HEADER } from './request-id.ts'
import type { EdgeDeps, EdgeEnv } from './types.ts'

// Meaningful for one hop only, or recomputed by fetch from the bytes actually sent.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
])

/**
 * Headers a client must never be able to set on the origin's side: the edge's own signature and
 * client-address headers (the origin trusts them), and proxy headers that could pass for them.
 */
function isSpoofable(name: string): boolean {
  return (
    name.startsWith('x-edge-') ||
    name === EDGE_HEADERS.clientIp ||
    name.startsWith('cf-') ||
    name.startsWith('x-forwarded-') ||
    name === 'x-real-ip' ||
    name === 'forwarded'
  )
}

// The body is read whole (and decoded) below, so the encoding and length the origin sent no longer apply.
const DROPPED_RESPONSE_HEADERS = new Set([...HOP_BY_HOP, 'content-encoding'])

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304])

export interface ForwardOptions {
  /** Edge-signed with the client address (API.md §6); false only for WeChat's callbacks. */
  signed: boolean
}

async function outgoingHeaders(
  c: Context<EdgeEnv>,
  deps: EdgeDeps,
  pathWithQuery: string,
  body: Uint8Array<ArrayBuffer>,
  signed: boolean,
): Promise<Headers> {
  const headers = new Headers()
  for (const [name, value] of c.req.raw.headers)
    if (!HOP_BY_HOP.has(name) && !isSpoofable(name) && name !== 'accept-encoding') headers.set(name, value)
  headers.set(REQUEST_ID_HEADER, c.get('requestId'))
  if (!signed) return headers
  headers.set(EDGE_HEADERS.clientIp, c.get('clientIp'))
  const { EDGE_SIGNING_KEY_ID, EDGE_SIGNING_SECRET } = deps.config
  const signature = await edgeSignatureHeaders(
    EDGE_SIGNING_KEY_ID,
    EDGE_SIGNING_SECRET,
    {
      method: c.req.method,
      pathWithQuery,
      body,
      authorization: c.req.header('authorization') ?? '',
    },
    Math.floor(deps.now() / 1000),
  )
  for (const [name, value] of Object.entries(signature)) headers.set(name, value)
  return headers
}

/** Sends the request on to ORIGIN_URL and hands back the origin's answer as it came. */
export const forwardToOrigin = (deps: EdgeDeps, { signed }: ForwardOptions) => {
  const originBase = new URL(deps.config.ORIGIN_URL).origin
  return async (c: Context<EdgeEnv>): Promise<Response> => {
    const { path, query } = c.get('target')
    // Concatenated, never resolved: a path cannot name another host this way. Checked all the same,
    // because sending a user's token and a fresh signature anywhere else is the one thing not to do.
    const target = new URL(`${originBase}${path}${query}`)
    if (target.origin !== originBase || target.pathname !== path)
      throw new AppError('VALIDATION_FAILED', 'path: cannot be forwarded as sent', { field: 'path' })
    // Signed as the origin will see it, from the same URL object fetch sends.
    const pathWithQuery = `${target.pathname}${target.search}`
    const method = c.req.method
    const hasBody = method !== 'GET' && method !== 'HEAD'
    // A body sent with GET cannot be forwarded, so it must not be signed either.
    const body = hasBody ? c.get('body') : new Uint8Array(0)
    const request = new Request(target, {
      method,
      headers: await outgoingHeaders(c, deps, pathWithQuery, body, signed),
      body: hasBody ? body : undefined,
      redirect: 'manual',
      signal: AbortSignal.timeout(deps.config.ORIGIN_TIMEOUT_MS),
    })
    let res: Response
    let answer: ArrayBuffer
    const asked = performance.now()
    try {
      res = await deps.fetchOrigin(request)
      answer = await res.arrayBuffer()
      c.set('originTiming', { ms: performance.now() - asked, failed: false })
    } catch (err) {
      c.set('originTiming', { ms: performance.now() - asked, failed: true })
      console.error(`edge: origin unavailable for ${method} ${path}: ${(err as Error).message}`)
      throw new AppError(
        'ORIGIN_UNAVAILABLE',
        'The service is temporarily unavailable, try again shortly',
        undefined,
        {
          'retry-after': '5',
        },
      )
    }
    const headers = new Headers()
    for (const [name, value] of res.headers)
      if (!DROPPED_RESPONSE_HEADERS.has(name)) headers.append(name, value)
    const nullBody = NULL_BODY_STATUSES.has(res.status) || method === 'HEAD'
    return new Response(nullBody ? null : answer, { status: res.status, headers })
  }
}
