import { createRoute } from '@hono/zod-openapi'
import { AppError } from '../../shared/errors.ts'
import {
  AdjustmentRequest,
  AdminMerchantsQuery,
  ListQuery,
  MerchantPaymentRequest,
  ReconciliationRequest,
} from '../../shared/schemas.ts'
import { requireRole, requireUser } from '../http/auth.ts'
import type { OriginDeps } from '../http/context.ts'
import { idempotent } from '../http/idempotent.ts'
import { router } from '../http/openapi.ts'
import { setFrozen } from '../services/accounts.ts'
import { listAudit, platformStats } from '../services/admin.ts'
import { adjustPoints } from '../services/grants.ts'
import { bumpMerchantPageVersion } from '../services/merchant-page-version.ts'
import { listMerchants, merchantView, reviewMerchant, setMerchantPayment } from '../services/merchants.ts'
import { getReconciliation, runReconciliation } from '../services/reconciliation.ts'
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
  ReconciliationReport,
  USER_ERRORS,
  UserStanding,
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

const standing = (action: 'freeze' | 'unfreeze', summary: string) =>
  createRoute({
    ...admin,
    method: 'post',
    path: `/users/{id}/${action}`,
    operationId: `${action}User`,
    summary,
    request: { params: IdParam },
    responses: { 200: json(UserStanding, 'The user, frozen or not'), ...errors(...USER_ERRORS, 404) },
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

const payment = createRoute({
  ...admin,
  method: 'put',
  path: '/merchants/{id}/payment',
  operationId: 'setMerchantPayment',
  summary: 'Set the WeChat Pay sub-merchant id (partner mode)',
  request: { params: IdParam, body: body(MerchantPaymentRequest) },
  responses: { 200: json(Merchant, 'The merchant'), ...errors(...USER_ERRORS, 404) },
})

const reconcile = createRoute({
  ...admin,
  method: 'post',
  path: '/reconciliations',
  operationId: 'runReconciliation',
  summary: "Reconcile a day against WeChat's trade bill, now",
  request: { body: body(ReconciliationRequest) },
  responses: { 200: json(ReconciliationReport, 'The report'), ...errors(...USER_ERRORS, 502) },
})

const reconciliation = createRoute({
  ...admin,
  method: 'get',
  path: '/reconciliations/{date}',
  operationId: 'getReconciliation',
  summary: "A day's reconciliation report",
  request: { params: ReconciliationRequest },
  responses: { 200: json(ReconciliationReport, 'The report'), ...errors(...USER_ERRORS, 404) },
})

export function adminRoutes(deps: OriginDeps) {
  const app = router()
  app.use(requireUser(deps), requireRole('admin'))
  // `npm run dev` in partner mode: an approved merchant gets a made-up sub-merchant id at once.
  const assignDevSubMchid = deps.config.DEV_ASSIGN_SUB_MCHID && deps.config.WECHAT_PAY_MODE === 'partner'
  for (const action of Object.keys(REVIEWS) as Review[]) {
    app.openapi(review(action), async (c) => {
      const merchant = await reviewMerchant(
        deps.db.primary,
        c.get('userId'),
        Number(c.req.valid('param').id),
        action,
        new Date(),
        { assignDevSubMchid },
      )
      await bumpMerchantPageVersion(deps, merchant.id)
      return c.json(merchantView(merchant, deps.phones, 'other'), 200)
    })
  }
  for (const action of ['freeze', 'unfreeze'] as const) {
    const summary =
      action === 'freeze' ? 'Freeze a user: reads only, every write 403 ACCOUNT_FROZEN' : 'Unfreeze a user'
    app.openapi(standing(action, summary), async (c) =>
      c.json(
        await setFrozen(
          deps.db.primary,
          c.get('userId'),
          Number(c.req.valid('param').id),
          action === 'freeze',
        ),
        200,
      ),
    )
  }
  return app
    .openapi(merchants, async (c) =>
      c.json(await listMerchants(deps.db.read, deps.phones, c.req.valid('query')), 200),
    )
    .openapi(payment, async (c) => {
      const merchant = await setMerchantPayment(
        deps.db.primary,
        c.get('userId'),
        Number(c.req.valid('param').id),
        c.req.valid('json').subMchid,
        new Date(),
      )
      return c.json(merchantView(merchant, deps.phones, 'other'), 200)
    })
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
    .openapi(reconcile, async (c) =>
      c.json(await runReconciliation(deps, c.req.valid('json').date, { adminUserId: c.get('userId') }), 200),
    )
    .openapi(reconciliation, async (c) => {
      const report = await getReconciliation(deps, c.req.valid('param').date)
      if (!report) throw new AppError('NOT_FOUND', 'no finished reconciliation for that day')
      return c.json(report, 200)
    })
    .openapi(stats, async (c) => c.json(await platformStats(deps.db.read), 200))
    .openapi(audit, async (c) => c.json(await listAudit(deps.db.read, c.req.valid('query')), 200))
}
