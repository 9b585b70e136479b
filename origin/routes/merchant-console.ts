/**
 * The merchant console (API.md §3): owners write, staff may read. Writes of a SUSPENDED merchant
 * are refused inside their transactions (MERCHANT_NOT_ACTIVE), refunds excepted (API.md §16).
 */
import { Hono } from 'hono'
import { createMiddleware } from 'hono/factory'
import { z } from 'zod'
import { AppError } from '../../shared/errors.ts'
import {
  GrantRequest,
  MerchantOrdersQuery,
  RefundRequest,
  Rule,
  StaffRequest,
  StatsQuery,
  UpdateMerchantRequest,
} from '../../shared/schemas.ts'
import { requireRole, requireUser } from '../http/auth.ts'
import type { AppEnv, OriginDeps } from '../http/context.ts'
import { idempotencyScope, idempotent, storedResponse } from '../http/idempotent.ts'
import { valid } from '../http/validate.ts'
import { grantPoints } from '../services/grants.ts'
import { bumpMerchantPageVersion } from '../services/merchant-page-version.ts'
import { merchantQrCode } from '../services/merchant-qrcode.ts'
import { merchantStats } from '../services/merchant-stats.ts'
import { findMerchant, merchantView, setMerchantRule, updateMerchantProfile } from '../services/merchants.ts'
import { listMerchantOrders } from '../services/order-queries.ts'
import { createRefund, getRefundForMerchant } from '../services/refunds.ts'
import { inviteStaff, removeStaff } from '../services/staff.ts'
import { requireUserExists } from '../services/users.ts'
import { IdParam } from './merchants.ts'

const UserIdParam = z.object({ userId: z.string().regex(/^[1-9][0-9]{0,17}$/, 'must be an id') })

const ownerOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get('identity').merchantRole !== 'merchant_owner') {
    throw new AppError('FORBIDDEN', 'only the merchant owner may do this')
  }
  await next()
})

export function merchantConsoleRoutes(deps: OriginDeps) {
  const db = deps.db.primary
  const owner = (c: { get(k: 'identity'): { userId: number; merchantId: number | null } }) => ({
    userId: c.get('identity').userId,
    merchantId: c.get('identity').merchantId!,
  })
  const viewer = (c: { get(k: 'identity'): { merchantRole: string | null } }) =>
    c.get('identity').merchantRole === 'merchant_owner' ? ('owner' as const) : ('other' as const)
  return new Hono<AppEnv>()
    .use(requireUser(deps), requireRole('merchant_owner', 'merchant_staff'))
    .get('/', async (c) => {
      const merchant = await findMerchant(db, c.get('identity').merchantId!)
      return c.json(merchantView(merchant!, deps.phones, viewer(c)))
    })
    .patch('/', ownerOnly, valid('json', UpdateMerchantRequest), async (c) => {
      const o = owner(c)
      const merchant = await updateMerchantProfile(
        db,
        o.userId,
        o.merchantId,
        c.req.valid('json'),
        new Date(),
      )
      await bumpMerchantPageVersion(deps, merchant.id)
      return c.json(merchantView(merchant, deps.phones, viewer(c)))
    })
    .put('/rule', ownerOnly, valid('json', Rule), async (c) => {
      const o = owner(c)
      const merchant = await setMerchantRule(db, o.userId, o.merchantId, c.req.valid('json'), new Date())
      await bumpMerchantPageVersion(deps, merchant.id)
      return c.json(merchantView(merchant, deps.phones, viewer(c)))
    })
    .get('/orders', valid('query', MerchantOrdersQuery), async (c) =>
      c.json(await listMerchantOrders(deps.db.read, c.get('identity').merchantId!, c.req.valid('query'))),
    )
    .post('/grants', ownerOnly, valid('json', GrantRequest), async (c) => {
      const input = c.req.valid('json')
      const userId = Number(input.userId)
      await requireUserExists(db, userId)
      return idempotent(c, deps, async (tx, now) => {
        const grant = await grantPoints(tx, {
          owner: owner(c),
          merchantId: owner(c).merchantId,
          userId,
          points: input.points,
          reason: input.reason,
          dailyMaxPoints: deps.config.GRANT_DAILY_MAX_POINTS,
          now,
        })
        return { status: 201, body: grant }
      })
    })
    .post(
      '/orders/:id/refunds',
      ownerOnly,
      valid('param', IdParam),
      valid('json', RefundRequest),
      async (c) => {
        const input = c.req.valid('json')
        const result = await createRefund(deps, {
          ownerUserId: c.get('userId'),
          merchantId: owner(c).merchantId,
          orderId: Number(c.req.valid('param').id),
          amountFen: input.amountFen,
          reason: input.reason,
          idempotency: await idempotencyScope(c),
        })
        return storedResponse(c, result)
      },
    )
    .get('/refunds/:id', valid('param', IdParam), async (c) =>
      c.json(
        await getRefundForMerchant(deps, c.get('identity').merchantId!, Number(c.req.valid('param').id)),
      ),
    )
    .get('/stats', valid('query', StatsQuery), async (c) =>
      c.json(await merchantStats(deps.db.read, c.get('identity').merchantId!, c.req.valid('query'))),
    )
    .get('/qrcode', async (c) => {
      const image = await merchantQrCode(deps, c.get('identity').merchantId!)
      c.header('Content-Type', image.contentType)
      c.header('Cache-Control', 'private, max-age=86400')
      return c.body(new Uint8Array(image.bytes))
    })
    .post('/staff', ownerOnly, valid('json', StaffRequest), async (c) =>
      c.json(await inviteStaff(db, owner(c), Number(c.req.valid('json').userId), new Date()), 201),
    )
    .delete('/staff/:userId', valid('param', UserIdParam), async (c) => {
      const identity = c.get('identity')
      await removeStaff(
        db,
        { userId: identity.userId, merchantId: identity.merchantId!, role: identity.merchantRole! },
        Number(c.req.valid('param').userId),
        new Date(),
      )
      return c.body(null, 204)
    })
}
