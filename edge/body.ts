import { createMiddleware } from 'hono/factory'
import { AppError } from '../shared/errors.ts'
import type { EdgeEnv } from './types.ts'

const tooLarge = (maxBytes: number) =>
  new AppError('PAYLOAD_TOO_LARGE', `The request body is larger than ${maxBytes} bytes`)

/**
 * Reads the whole body once, capped: the same bytes are hashed for the signature and sent to the
 * origin, and an oversize body is refused before anything else costs work.
 */
export const readBody = (maxBytes: number) =>
  createMiddleware<EdgeEnv>(async (c, next) => {
    const declared = Number(c.req.header('content-length') ?? 0)
    if (declared > maxBytes) throw tooLarge(maxBytes)
    const reader = c.req.raw.body?.getReader()
    const chunks: Uint8Array[] = []
    let size = 0
    while (reader) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > maxBytes) {
        await reader.cancel()
        throw tooLarge(maxBytes)
      }
      chunks.push(value)
    }
    const body = new Uint8Array(size)
    let offset = 0
    for (const chunk of chunks) {
      body.set(chunk, offset)
      offset += chunk.byteLength
    }
    c.set('body', body)
    await next()
  })
