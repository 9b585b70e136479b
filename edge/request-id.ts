import { createMiddleware } from 'hono/factory'
import type { EdgeEnv } from './types.ts'

export const REQUEST_ID_HEADER = 'x-request-id'

// Printable ASCII of sane length: anything else is replaced rather than echoed into logs and headers.
const ACCEPTABLE_ID = /^[\x21-\x7e]{1,200}$/

export const requestId = () =>
  createMiddleware<EdgeEnv>(async (c, next) => {
    const given = c.req.header(REQUEST_ID_HEADER)
    const id = given && ACCEPTABLE_ID.test(given) ? given : crypto.randomUUID()
    c.set('requestId', id)
    await next()
    c.res.headers.set(REQUEST_ID_HEADER, id)
  })
