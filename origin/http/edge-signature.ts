/**
 * Accepts only requests the edge signed (API.md §6). The signature covers the exact body bytes,
 * so the body is read here once as bytes and the handlers parse that same buffer.
 * Replay protection needs Redis; when Redis is down the request is refused (503) rather than
 * accepted unprotected.
 */

import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { createMiddleware } from 'hono/factory'
import type { Redis } from 'ioredis'
import {
  canonicalFromBodyHash,
  EDGE_HEADERS,
  EDGE_NONCE_PATTERN,
  EDGE_SIGNATURE_WINDOW_SECONDS,
  EMPTY_BODY_SHA256,
} from '../../shared/edge-signing.ts'
import { AppError } from '../../shared/errors.ts'
import type { AppEnv } from './context.ts'

const NONCE_TTL_SECONDS = EDGE_SIGNATURE_WINDOW_SECONDS * 2

function refuse(reason: string): never {
  throw new AppError('EDGE_SIGNATURE_INVALID', `request is not signed by the edge: ${reason}`)
}

export function edgeSignature(keys: ReadonlyMap<string, string>, redis: Redis) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const keyId = c.req.header(EDGE_HEADERS.keyId)
    const timestamp = c.req.header(EDGE_HEADERS.timestamp)
    const nonce = c.req.header(EDGE_HEADERS.nonce)
    const signature = c.req.header(EDGE_HEADERS.signature)
    if (!keyId || !timestamp || !nonce || !signature) refuse('signature headers missing')
    const secret = keys.get(keyId)
    if (!secret) refuse('unknown key id')
    if (!/^[0-9]{1,12}$/.test(timestamp)) refuse('bad timestamp')
    if (Math.abs(Date.now() / 1000 - Number(timestamp)) > EDGE_SIGNATURE_WINDOW_SECONDS)
      refuse('stale timestamp')
    if (!EDGE_NONCE_PATTERN.test(nonce)) refuse('bad nonce')
    const url = new URL(c.req.url)
    // GET and HEAD carry no body the edge would sign; not reading one skips building it.
    const bodyHash =
      c.req.method === 'GET' || c.req.method === 'HEAD'
        ? EMPTY_BODY_SHA256
        : createHash('sha256')
            .update(new Uint8Array(await c.req.arrayBuffer()))
            .digest('hex')
    const canonical = canonicalFromBodyHash(
      {
        method: c.req.method,
        pathWithQuery: url.pathname + url.search,
        timestamp,
        nonce,
        authorization: c.req.header('authorization') ?? '',
      },
      bodyHash,
    )
    // node:crypto rather than the shared Web Crypto verify: a sixth of the cost on this hot path.
    const expected = createHmac('sha256', secret).update(canonical).digest()
    const given = Buffer.from(signature, 'base64')
    const ok = given.length === expected.length && timingSafeEqual(given, expected)
    if (!ok) refuse('signature mismatch')
    const fresh = await redis
      .set(`edge:nonce:${keyId}:${nonce}`, '1', 'EX', NONCE_TTL_SECONDS, 'NX')
      .catch(() => {
        throw new AppError(
          'ORIGIN_UNAVAILABLE',
          'replay protection is unavailable, retry shortly',
          undefined,
          {
            'Retry-After': '5',
          },
        )
      })
    if (fresh !== 'OK') refuse('nonce already used')
    c.set('clientIp', c.req.header(EDGE_HEADERS.clientIp) ?? '')
    await next()
  })
}
