import { Hono } from 'hono'
import { z } from 'zod'
import { MerchantApplication } from '../../shared/schemas.ts'
import { requireUser } from '../http/auth.ts'
import type { AppEnv, OriginDeps } from '../http/context.ts'
import { valid } from '../http/validate.ts'
import { applyForMerchant, getActiveMerchant, publicMerchantView } from '../services/merchants.ts'

export const IdParam = z.object({ id: z.string().regex(/^[1-9][0-9]{0,17}$/, 'must be an id') })

/** The public merchant page is what a QR scan opens: cacheable, so it is read from the replica. */
export const PUBLIC_MERCHANT_MAX_AGE_SECONDS = 30

export function merchantRoutes(deps: OriginDeps) {
  return new Hono<AppEnv>()
    .get('/:id', valid('param', IdParam), async (c) => {
      const merchant = await getActiveMerchant(deps.db.read, Number(c.req.valid('param').id))
      c.header('Cache-Control', `public, max-age=${PUBLIC_MERCHANT_MAX_AGE_SECONDS}`)
      return c.json(publicMerchantView(merchant))
    })
    .post('/applications', requireUser(deps), valid('json', MerchantApplication), async (c) => {
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
