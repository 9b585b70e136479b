import { Hono } from 'hono'
import { z } from 'zod'
import { AppError } from '../../shared/errors.ts'
import {
  AdjustmentRequest,
  AdminMerchantsQuery,
  ListQuery,
  MerchantPaymentRequest,
  ReconciliationRequest,
} from '../../shared/schemas.ts'
import { requireRole, requireUser } from '../http/auth.ts'
import type { AppEnv, OriginDeps } from '../http/context.ts'
import { idempotent } from '../http/idempotent.ts'
import { valid } from '../http/validate.ts'
import { listAudit, platformStats } from '../services/admin.ts'
import { adjustPoints } from '../services/grants.ts'
import { listMerchants, merchantView, reviewMerchant, setMerchantPayment } from '../services/merchants.ts'
import { getReconciliation, runReconciliation } from '../services/reconciliation.ts'
import { requireUserExists } from '../services/users.ts'
import { IdParam } from './merchants.ts'

const ReviewParam = IdParam.extend({ action: z.enum(['approve', 'reject', 'suspend']) })

export function adminRoutes(deps: OriginDeps) {
  return new Hono<AppEnv>()
    .use(requireUser(deps.config.JWT_SECRET), requireRole(deps, 'admin'))
    .get('/merchants', valid('query', AdminMerchantsQuery), async (c) =>
      c.json(await listMerchants(deps.db.read, deps.phones, c.req.valid('query'))),
    )
    .post('/merchants/:id/:action', valid('param', ReviewParam), async (c) => {
      const { id, action } = c.req.valid('param')
      const assignDevSubMchid = deps.config.DEV_ASSIGN_SUB_MCHID && deps.config.WECHAT_PAY_MODE === 'partner'
      const merchant = await reviewMerchant(
        deps.db.primary,
        c.get('userId'),
        Number(id),
        action,
        new Date(),
        {
          assignDevSubMchid,
        },
      )
      return c.json(merchantView(merchant, deps.phones, 'other'))
    })
    .put(
      '/merchants/:id/payment',
      valid('param', IdParam),
      valid('json', MerchantPaymentRequest),
      async (c) => {
        const merchant = await setMerchantPayment(
          deps.db.primary,
          c.get('userId'),
          Number(c.req.valid('param').id),
          c.req.valid('json').subMchid,
          new Date(),
        )
        return c.json(merchantView(merchant, deps.phones, 'other'))
      },
    )
    .post('/adjustments', valid('json', AdjustmentRequest), async (c) => {
      const input = c.req.valid('json')
      const userId = Number(input.userId)
      await requireUserExists(deps.db.primary, userId)
      return idempotent(c, deps, async (tx, now) => ({
        status: 201,
        body: await adjustPoints(tx, {
          adminUserId: c.get('userId'),
          userId,
          points: input.points,
          reason: input.reason,
          now,
        }),
      }))
    })
    .post('/reconciliations', valid('json', ReconciliationRequest), async (c) =>
      c.json(await runReconciliation(deps, c.req.valid('json').date, { adminUserId: c.get('userId') })),
    )
    .get('/reconciliations/:date', valid('param', ReconciliationRequest), async (c) => {
      const report = await getReconciliation(deps, c.req.valid('param').date)
      if (!report) throw new AppError('NOT_FOUND', 'no finished reconciliation for that day')
      return c.json(report)
    })
    .get('/stats', async (c) => c.json(await platformStats(deps.db.read)))
    .get('/audit-log', valid('query', ListQuery), async (c) =>
      c.json(await listAudit(deps.db.read, c.req.valid('query'))),
    )
}
