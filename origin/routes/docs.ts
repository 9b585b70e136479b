/**
 * The OpenAPI document, generated from the routes themselves, and the Scalar API reference that
 * renders it (the page loads Scalar's script from its CDN; the document itself is served here).
 */
import { createRoute, z } from '@hono/zod-openapi'
import { Scalar } from '@scalar/hono-api-reference'
import type { Context } from 'hono'
import { router } from '../http/openapi.ts'

const tags = ['docs']

const document = createRoute({
  method: 'get',
  path: '/openapi.json',
  operationId: 'openApiDocument',
  summary: 'This document (OpenAPI 3.1)',
  tags,
  responses: {
    200: {
      description: 'The OpenAPI document',
      content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } },
    },
  },
})

const reference = createRoute({
  method: 'get',
  path: '/docs',
  operationId: 'apiReference',
  summary: 'The API reference page (Scalar)',
  tags,
  responses: { 200: { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } },
})

/** `describe` runs on the first request, when every route of the app has been registered. */
export function docsRoutes(describe: () => Record<string, unknown>) {
  let described: Record<string, unknown> | undefined
  const page = Scalar({ url: '/openapi.json', pageTitle: 'Points API' })
  return router()
    .openapi(document, (c) => {
      described ??= describe()
      c.header('Cache-Control', 'public, max-age=300')
      return c.json(described, 200)
    })
    .openapi(
      reference,
      // Scalar's handler is typed for a plain Context and answers untyped HTML.
      (c) => page(c as unknown as Context, async () => {}) as Promise<never>,
    )
}
