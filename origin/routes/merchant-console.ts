/**
 * The merchant console (API.md §3): owners write, staff may read. Writes of a SUSPENDED merchant
 * are refused inside their transactions (MERCHANT_NOT_ACTIVE), refunds excepted (API.md §16).
 */
import { createRoute } from '@hono/zod-openapi'
import { createMiddleware } from 'hono/factory'
import { AppError } from '../../shared/errors.ts'
import {
  DailyStatsQuery,
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
import { router } from '../http/openapi.ts'
import { grantPoints } from '../services/grants.ts'
import { merchantDailyStats } from '../services/merchant-daily-stats.ts'
import { bumpMerchantPageVersion } from '../services/merchant-page-version.ts'
import { merchantQrCode } from '../services/merchant-qrcode.ts'
import { merchantStats } from '../services/merchant-stats.ts'
import { findMerchant, merchantView, setMerchantRule, updateMerchantProfile } from '../services/merchants.ts'
import { listMerchantOrders } from '../services/order-queries.ts'
import { createRefund, getRefundForMerchant } from '../services/refunds.ts'
import { inviteStaff, removeStaff } from '../services/staff.ts'
import { requireUserExists } from '../services/users.ts'
import {
  bearer,
  body,
  DailyStats,
  errors,
  Grant,
  IdParam,
  idempotencyKeyHeader,
  json,
  Merchant,
  MerchantOrderPage,
  MerchantStats,
  Refund,
  RefundAccepted,
  StaffInvited,
  USER_ERRORS,
  UserIdParam,
} from './components.ts'

const ownerOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (c.get('identity').merchantRole !== 'merchant_owner') {
    throw new AppError('FORBIDDEN', 'only the merchant owner may do this')
  }
  await next()
})

const staff = { tags: ['merchant console'], security: bearer }
const owner = { ...staff, middleware: ownerOnly }
const merchantAnswer = json(Merchant, 'The merchant')

const get = createRoute({
  ...staff,
  method: 'get',
  path: '/',
  operationId: 'getMyMerchant',
  summary: 'Your merchant',
  responses: { 200: merchantAnswer, ...errors(...USER_ERRORS) },
})

const update = createRoute({
  ...owner,
  method: 'patch',
  path: '/',
  operationId: 'updateMyMerchant',
  summary: 'Edit the merchant profile',
  request: { body: body(UpdateMerchantRequest) },
  responses: { 200: merchantAnswer, ...errors(...USER_ERRORS, 422) },
})

const rule = createRoute({
  ...owner,
  method: 'put',
  path: '/rule',
  operationId: 'setEarningRule',
  summary: 'Set the earning rule',
  request: { body: body(Rule) },
  responses: { 200: merchantAnswer, ...errors(...USER_ERRORS, 422) },
})

const orders = createRoute({
  ...staff,
  method: 'get',
  path: '/orders',
  operationId: 'listMerchantOrders',
  summary: "The merchant's orders",
  request: { query: MerchantOrdersQuery },
  responses: { 200: json(MerchantOrderPage, 'A page of orders'), ...errors(...USER_ERRORS) },
})

const grant = createRoute({
  ...owner,
  method: 'post',
  path: '/grants',
  operationId: 'grantPoints',
  summary: 'Grant points to a user',
  parameters: [idempotencyKeyHeader],
  request: { body: body(GrantRequest) },
  responses: { 201: json(Grant, 'The grant'), ...errors(...USER_ERRORS, 404, 409, 422) },
})

const refund = createRoute({
  ...owner,
  method: 'post',
  path: '/orders/{id}/refunds',
  operationId: 'refundOrder',
  summary: 'Refund (part of) an order',
  parameters: [idempotencyKeyHeader],
  request: { params: IdParam, body: body(RefundRequest) },
  responses: {
    202: json(RefundAccepted, 'The refund, PROCESSING until WeChat settles it'),
    ...errors(...USER_ERRORS, 404, 409, 422, 502),
  },
})

const getRefund = createRoute({
  ...staff,
  method: 'get',
  path: '/refunds/{id}',
  operationId: 'getRefund',
  summary: 'A refund',
  request: { params: IdParam },
  responses: { 200: json(Refund, 'The refund'), ...errors(...USER_ERRORS, 404) },
})

const stats = createRoute({
  ...staff,
  method: 'get',
  path: '/stats',
  operationId: 'merchantStats',
  summary: 'Orders, money and points over a range',
  request: { query: StatsQuery },
  responses: { 200: json(MerchantStats, 'Counts and sums'), ...errors(...USER_ERRORS) },
})

const dailyStats = createRoute({
  ...staff,
  method: 'get',
  path: '/stats/daily',
  operationId: 'merchantDailyStats',
  summary: 'Orders, money and points per Asia/Shanghai day, oldest first',
  request: { query: DailyStatsQuery },
  responses: { 200: json(DailyStats, 'One item per day from `from` to `to`'), ...errors(...USER_ERRORS) },
})

const qrcode = createRoute({
  ...staff,
  method: 'get',
  path: '/qrcode',
  operationId: 'merchantQrCode',
  summary: 'The mini-program code that opens the pay page',
  responses: {
    200: {
      description: 'The code as an image',
      content: {
        'image/png': { schema: { type: 'string', format: 'binary' } },
        'image/jpeg': { schema: { type: 'string', format: 'binary' } },
      },
    },
    ...errors(...USER_ERRORS, 502),
  },
})

const invite = createRoute({
  ...owner,
  method: 'post',
  path: '/staff',
  operationId: 'inviteStaff',
  summary: 'Invite a user to be staff (they become staff only by accepting)',
  request: { body: body(StaffRequest) },
  responses: { 201: json(StaffInvited, 'The invitation, PENDING'), ...errors(...USER_ERRORS, 404, 409, 422) },
})

const removeStaffRoute = createRoute({
  ...staff,
  method: 'delete',
  path: '/staff/{userId}',
  operationId: 'removeStaff',
  summary: 'Remove a staff member or withdraw their invitation (owner), or leave (that staff member)',
  request: { params: UserIdParam },
  responses: { 204: { description: 'Removed' }, ...errors(...USER_ERRORS, 404) },
})

export function merchantConsoleRoutes(deps: OriginDeps) {
  const db = deps.db.primary
  const ownerOf = (c: { get(k: 'identity'): { userId: number; merchantId: number | null } }) => ({
    userId: c.get('identity').userId,
    merchantId: c.get('identity').merchantId!,
  })
  const viewer = (c: { get(k: 'identity'): { merchantRole: string | null } }) =>
    c.get('identity').merchantRole === 'merchant_owner' ? ('owner' as const) : ('other' as const)
  const app = router()
  app.use(requireUser(deps), requireRole('merchant_owner', 'merchant_staff'))
  return app
    .openapi(get, async (c) => {
      const merchant = await findMerchant(db, c.get('identity').merchantId!)
      return c.json(merchantView(merchant!, deps.phones, viewer(c)), 200)
    })
    .openapi(update, async (c) => {
      const o = ownerOf(c)
      const merchant = await updateMerchantProfile(
        db,
        o.userId,
        o.merchantId,
        c.req.valid('json'),
        new Date(),
      )
      await bumpMerchantPageVersion(deps, merchant.id)
      return c.json(merchantView(merchant, deps.phones, viewer(c)), 200)
    })
    .openapi(rule, async (c) => {
      const o = ownerOf(c)
      const merchant = await setMerchantRule(db, o.userId, o.merchantId, c.req.valid('json'), new Date())
      await bumpMerchantPageVersion(deps, merchant.id)
      return c.json(merchantView(merchant, deps.phones, viewer(c)), 200)
    })
    .openapi(orders, async (c) =>
      c.json(
        await listMerchantOrders(deps.db.read, c.get('identity').merchantId!, c.req.valid('query')),
        200,
      ),
    )
    .openapi(grant, async (c) => {
      const input = c.req.valid('json')
      const userId = Number(input.userId)
      await requireUserExists(db, userId)
      return idempotent(c, deps, async (tx, now) => {
        const granted = await grantPoints(tx, {
          owner: ownerOf(c),
          merchantId: ownerOf(c).merchantId,
          userId,
          points: input.points,
          reason: input.reason,
          dailyMaxPoints: deps.config.GRANT_DAILY_MAX_POINTS,
          now,
        })
        return { status: 201, body: granted }
      })
    })
    .openapi(refund, async (c) => {
      const input = c.req.valid('json')
      const result = await createRefund(deps, {
        ownerUserId: c.get('userId'),
        merchantId: ownerOf(c).merchantId,
        orderId: Number(c.req.valid('param').id),
        amountFen: input.amountFen,
        reason: input.reason,
        idempotency: await idempotencyScope(c),
      })
      return storedResponse(c, result)
    })
    .openapi(getRefund, async (c) =>
      c.json(
        await getRefundForMerchant(deps, c.get('identity').merchantId!, Number(c.req.valid('param').id)),
        200,
      ),
    )
    .openapi(stats, async (c) =>
      c.json(await merchantStats(deps.db.read, c.get('identity').merchantId!, c.req.valid('query')), 200),
    )
    .openapi(dailyStats, async (c) =>
      c.json(
        await merchantDailyStats(deps.db.read, c.get('identity').merchantId!, c.req.valid('query')),
        200,
      ),
    )
    .openapi(qrcode, async (c) => {
      const image = await merchantQrCode(deps, c.get('identity').merchantId!)
      c.header('Content-Type', image.contentType)
      c.header('Cache-Control', 'private, max-age=86400')
      return c.body(new Uint8Array(image.bytes), 200)
    })
    .openapi(invite, async (c) =>
      c.json(await inviteStaff(db, ownerOf(c), Number(c.req.valid('json').userId), new Date()), 201),
    )
    .openapi(removeStaffRoute, async (c) => {
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
