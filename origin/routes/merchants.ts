import { createRoute } from '@hono/zod-openapi'
import { MerchantApplication } from '../../shared/schemas.ts'
import { requireUser } from '../http/auth.ts'
import type { OriginDeps } from '../http/context.ts'
import { router } from '../http/openapi.ts'
import { applyForMerchant, getActiveMerchant, publicMerchantView } from '../services/merchants.ts'
import {
  bearer,
  body,
  errors,
  IdParam,
  json,
  MerchantApplied,
  PublicMerchant,
  USER_ERRORS,
} from './components.ts'

/** The public merchant page is what a QR scan opens: cacheable, so it is read from the replica. */
export const PUBLIC_MERCHANT_MAX_AGE_SECONDS = 30

const tags = ['merchants']

const page = createRoute({
  method: 'get',
  path: '/{id}',
  operationId: 'getMerchantPage',
  summary: 'Public merchant page (cacheable; 404 unless ACTIVE)',
  tags,
  request: { params: IdParam },
  responses: { 200: json(PublicMerchant, 'The merchant'), ...errors(404, 429, 503) },
})

export function merchantRoutes(deps: OriginDeps) {
  const apply = createRoute({
    method: 'post',
    path: '/applications',
    operationId: 'applyForMerchant',
    summary: 'Apply to become a merchant',
    tags,
    security: bearer,
    middleware: requireUser(deps),
    request: { body: body(MerchantApplication) },
    responses: {
      201: json(MerchantApplied, 'The application, PENDING_REVIEW'),
      ...errors(...USER_ERRORS, 409),
    },
  })
  return router()
    .openapi(page, async (c) => {
      const merchant = await getActiveMerchant(deps.db.read, Number(c.req.valid('param').id))
      c.header('Cache-Control', `public, max-age=${PUBLIC_MERCHANT_MAX_AGE_SECONDS}`)
      return c.json(publicMerchantView(merchant), 200)
    })
    .openapi(apply, async (c) => {
      const merchant = await applyForMerchant(
        deps.db.primary,
        deps.phones,
        c.get('userId'),
        c.req.valid('json'),
        new Date(),
      )
      return c.json({ merchantId: String(merchant.id), status: merchant.status }, 201)
    })
}
