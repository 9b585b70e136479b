import { createMiddleware } from 'hono/factory'
import { REQUEST_ID_PATTERN } from '../shared/request-id.ts'
import type { EdgeEnv } from './types.ts'

export const REQUEST_ID_HEADER = 'x-request-id'

export const requestId = () =>
  createMiddleware<EdgeEnv>(async (c, next) => {
    const given = c.req.header(REQUEST_ID_HEADER)
    const id = given && REQUEST_ID_PATTERN.test(given) ? given : crypto.randomUUID()
    c.set('requestId', id)
    await next()
    c.res.headers.set(REQUEST_ID_HEADER, id)
  })
