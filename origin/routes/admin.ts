import { createRoute } from '@hono/zod-openapi'
import { AdjustmentRequest, AdminMerchantsQuery, ListQuery } from '../../shared/schemas.ts'
import { requireRole, requireUser } from '../http/auth.ts'
import type { OriginDeps } from '../http/context.ts'
import { idempotent } from '../http/idempotent.ts'
import { router } from '../http/openapi.ts'
import { listAudit, platformStats } from '../services/admin.ts'
import { adjustPoints } from '../services/grants.ts'
import { bumpMerchantPageVersion } from '../services/merchant-page-version.ts'
import { listMerchants, merchantView, reviewMerchant } from '../services/merchants.ts'
import { requireUserExists } from '../services/users.ts'
import {
  Adjustment,
  AuditEntryPage,
  bearer,
  body,
  errors,
  IdParam,
  idempotencyKeyHeader,
  json,
  Merchant,
  MerchantPage,
  PlatformStats,
  USER_ERRORS,
} from './components.ts'

const admin = { tags: ['admin'], security: bearer }

const merchants = createRoute({
  ...admin,
  method: 'get',
  path: '/merchants',
  operationId: 'adminListMerchants',
  summary: 'Merchants by status',
  request: { query: AdminMerchantsQuery },
  responses: { 200: json(MerchantPage, 'A page of merchants'), ...errors(...USER_ERRORS) },
})

const REVIEWS = {
  approve: 'Approve (or re-activate) a merchant',
  reject: 'Reject an application',
  suspend: 'Suspend a merchant',
} as const
type Review = keyof typeof REVIEWS

const review = (action: Review) =>
  createRoute({
    ...admin,
    method: 'post',
    path: `/merchants/{id}/${action}`,
    operationId: `${action}Merchant`,
    summary: REVIEWS[action],
    request: { params: IdParam },
    responses: { 200: json(Merchant, 'The merchant'), ...errors(...USER_ERRORS, 404, 409) },
  })

const adjust = createRoute({
  ...admin,
  method: 'post',
  path: '/adjustments',
  operationId: 'adjustPoints',
  summary: 'Adjust a balance (±)',
  parameters: [idempotencyKeyHeader],
  request: { body: body(AdjustmentRequest) },
  responses: { 201: json(Adjustment, 'The adjustment'), ...errors(...USER_ERRORS, 404, 409, 422) },
})

const stats = createRoute({
  ...admin,
  method: 'get',
  path: '/stats',
  operationId: 'platformStats',
  summary: 'Platform stats',
  responses: { 200: json(PlatformStats, 'Counts and sums'), ...errors(...USER_ERRORS) },
})

const audit = createRoute({
  ...admin,
  method: 'get',
  path: '/audit-log',
  operationId: 'listAuditLog',
  summary: 'Admin and merchant-owner writes',
  request: { query: ListQuery },
  responses: { 200: json(AuditEntryPage, 'A page of audit entries'), ...errors(...USER_ERRORS) },
})

export function adminRoutes(deps: OriginDeps) {
  const app = router()
  app.use(requireUser(deps), requireRole('admin'))
  for (const action of Object.keys(REVIEWS) as Review[]) {
    app.openapi(review(action), async (c) => {
      const merchant = await reviewMerchant(
        deps.db.primary,
        c.get('userId'),
        Number(c.req.valid('param').id),
        action,
        new Date(),
      )
      await bumpMerchantPageVersion(deps, merchant.id)
      return c.json(merchantView(merchant, deps.phones, 'other'), 200)
    })
  }
  return app
    .openapi(merchants, async (c) =>
      c.json(await listMerchants(deps.db.read, deps.phones, c.req.valid('query')), 200),
    )
    .openapi(adjust, async (c) => {
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
    .openapi(stats, async (c) => c.json(await platformStats(deps.db.read), 200))
    .openapi(audit, async (c) => c.json(await listAudit(deps.db.read, c.req.valid('query')), 200))
}
