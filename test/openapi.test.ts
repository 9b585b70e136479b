/**
 * The routes are the contract: the document generated from them is valid OpenAPI, lists every
 * route the app answers, and the edge's committed route table is what the document yields.
 */
import { readFileSync } from 'node:fs'
import { validate } from '@readme/openapi-parser'
import { describe, expect, it } from 'vitest'
import { ROUTE_TABLE_FILE, renderRouteTable } from '../ops/route-table.ts'
import { apiDocument } from '../origin/api-document.ts'
import { createOriginApp } from '../origin/app.ts'
import type { OriginDeps } from '../origin/http/context.ts'

const doc = apiDocument() as {
  paths: Record<string, Record<string, { operationId?: string; responses: Record<string, unknown> }>>
  components: { schemas: Record<string, unknown> }
}

describe('the OpenAPI document', () => {
  it('is valid OpenAPI 3.1', async () => {
    const result = await validate(structuredClone(doc) as never)
    expect(result.valid ? [] : result.errors).toEqual([])
  })

  it('documents every route the app answers, with an operationId and error answers', () => {
    const placeholder: OriginDeps = new Proxy({} as OriginDeps, { get: () => placeholder })
    const app = createOriginApp(placeholder)
    const served = new Set(
      app.routes
        .filter((r) => r.method !== 'ALL' && !r.path.endsWith('*'))
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
    )
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
      ),
    )
    expect([...served].filter((r) => !documented.has(r))).toEqual([])
    expect([...documented].filter((r) => !served.has(r))).toEqual([])
    expect(served.size).toBeGreaterThan(40)
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId))
    expect(ids.every((id) => typeof id === 'string')).toBe(true)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('answers errors in the API error format and the QR code as an image', () => {
    const order = doc.paths['/api/orders']!.post!
    expect(order.responses['400']).toMatchObject({
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    })
    expect(doc.components.schemas.Error).toBeTruthy()
    expect(doc.paths['/api/merchant/qrcode']!.get!.responses['200']).toMatchObject({
      content: { 'image/png': expect.anything() },
    })
  })
})

it('the committed edge route table is the one the document yields (npm run gen:routes)', () => {
  expect(readFileSync(ROUTE_TABLE_FILE, 'utf8')).toBe(renderRouteTable(doc))
})
