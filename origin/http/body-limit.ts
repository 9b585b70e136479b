/**
 * Refuses request bodies over `maxBytes` before anything reads them. hono/body-limit looks at
 * `c.req.raw.body` first, which on @hono/node-server turns every request — GETs included — into a
 * full WHATWG Request with its own AbortController and ReadableStream: about a seventh of the
 * origin's CPU on an authenticated read (docs/BENCHMARKS.md). The origin speaks HTTP/1.1, where a
 * body is announced by Content-Length or Transfer-Encoding and nothing else, so the headers decide;
 * only a chunked body, whose size is not known up front, goes through hono/body-limit to be
 * counted as it arrives.
 */
import type { Context, Next } from 'hono'
import { bodyLimit as countingBodyLimit } from 'hono/body-limit'
import { createMiddleware } from 'hono/factory'
import type { AppEnv } from './context.ts'

export function bodyLimit(maxBytes: number, onError: (c: Context<AppEnv>) => Response | Promise<Response>) {
  const counting = countingBodyLimit({ maxSize: maxBytes, onError })
  return createMiddleware<AppEnv>(async (c: Context<AppEnv>, next: Next) => {
    if (c.req.header('transfer-encoding') !== undefined) return counting(c, next)
    const length = c.req.header('content-length')
    // Node's parser has already refused a Content-Length that is not a number.
    if (length !== undefined && Number(length) > maxBytes) return onError(c)
    return next()
  })
}
