import { createMiddleware } from 'hono/factory'
import { AppError } from '../shared/errors.ts'
import type { EdgeEnv, RequestTarget } from './types.ts'

/**
 * A path segment of plain characters only: RFC 3986 `pchar` without percent-encoding. With no `%`,
 * no `\`, no empty and no dot segments, the path Hono routes on, the one auth, limits and cache
 * decide on, the one signed and the one the origin receives are the same string: nothing left for a
 * URL parser to normalise into another path, let alone another host (`//host/…`).
 */
const PLAIN_SEGMENT = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]+$/

/**
 * Splits a request URL as the runtime handed it over (Deno keeps the raw request line; workerd has
 * already normalised it) without normalising anything itself.
 */
export function rawTarget(url: string): RequestTarget {
  const afterScheme = url.indexOf('://') + 3
  const slash = url.indexOf('/', afterScheme)
  if (slash === -1) return { path: '/', query: '' }
  const rest = url.slice(slash)
  const q = rest.indexOf('?')
  return q === -1 ? { path: rest, query: '' } : { path: rest.slice(0, q), query: rest.slice(q) }
}

/** Why a raw path is refused, or undefined when it is canonical. */
export function pathProblem(path: string): string | undefined {
  if (path === '/') return undefined
  if (!path.startsWith('/')) return 'must start with /'
  const segments = path.slice(1).split('/')
  for (const [i, segment] of segments.entries()) {
    // A trailing slash is an empty last segment: harmless, it routes nowhere.
    if (segment === '' && i === segments.length - 1) continue
    if (segment === '') return 'must not contain //'
    if (segment === '.' || segment === '..') return 'must not contain dot segments'
    if (!PLAIN_SEGMENT.test(segment))
      return 'must not contain \\, percent-encoding or other special characters'
  }
  return undefined
}

/** Refuses, before anything else decides on it, a path that some parser would read differently. */
export const canonicalPath = () =>
  createMiddleware<EdgeEnv>(async (c, next) => {
    const target = rawTarget(c.req.url)
    const problem =
      pathProblem(target.path) ?? (target.query.includes('#') ? 'must not contain #' : undefined)
    if (problem)
      throw new AppError('VALIDATION_FAILED', `path: ${problem}`, {
        field: 'path',
        issues: [{ field: 'path', message: problem }],
      })
    c.set('target', target)
    await next()
  })
