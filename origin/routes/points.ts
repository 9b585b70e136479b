import { createRoute } from '@hono/zod-openapi'
import { CreateGiftRequest, ListQuery } from '../../shared/schemas.ts'
import { requireUser } from '../http/auth.ts'
import type { OriginDeps } from '../http/context.ts'
import { idempotent } from '../http/idempotent.ts'
import { router } from '../http/openapi.ts'
import { cancelGift, claimGift } from '../services/gift-settlement.ts'
import { createGift, giftView, viewGiftByCode } from '../services/gifts.ts'
import { balanceOf, recordsOf } from '../services/points.ts'
import {
  Balance,
  bearer,
  body,
  CodeParam,
  errors,
  Gift,
  GiftClaimed,
  GiftSettled,
  GiftView,
  IdParam,
  idempotencyKeyHeader,
  json,
  PointsRecordPage,
  USER_ERRORS,
} from './components.ts'

const tags = ['points']
const user = { tags, security: bearer }

const balance = createRoute({
  ...user,
  method: 'get',
  path: '/balance',
  operationId: 'getBalance',
  summary: 'Balance, points held in gifts, total earned, points expiring soon',
  responses: { 200: json(Balance, 'The balance'), ...errors(...USER_ERRORS) },
})

const records = createRoute({
  ...user,
  method: 'get',
  path: '/records',
  operationId: 'listPointsRecords',
  summary: 'Points history, newest first',
  request: { query: ListQuery },
  responses: { 200: json(PointsRecordPage, 'A page of records'), ...errors(...USER_ERRORS) },
})

const createGiftRoute = createRoute({
  ...user,
  method: 'post',
  path: '/gifts',
  operationId: 'createGift',
  summary: 'Create a gift (count > 1: a group gift of that many shares); the points are held at once',
  parameters: [idempotencyKeyHeader],
  request: { body: body(CreateGiftRequest) },
  responses: { 201: json(Gift, 'The gift, PENDING'), ...errors(...USER_ERRORS, 409, 422) },
})

const viewGift = createRoute({
  ...user,
  method: 'get',
  path: '/gifts/{code}',
  operationId: 'getGift',
  summary: 'Look at a gift by its code',
  request: { params: CodeParam },
  responses: { 200: json(GiftView, 'The gift'), ...errors(...USER_ERRORS, 404) },
})

const claim = createRoute({
  ...user,
  method: 'post',
  path: '/gifts/{code}/claim',
  operationId: 'claimGift',
  summary: 'Claim a share of a gift (the only share of a plain gift)',
  request: { params: CodeParam },
  responses: {
    200: json(GiftClaimed, 'The gift (CLAIMED once no share is left) and the share'),
    ...errors(...USER_ERRORS, 404, 409, 410, 422),
  },
})

const cancel = createRoute({
  ...user,
  method: 'post',
  path: '/gifts/{id}/cancel',
  operationId: 'cancelGift',
  summary: 'Cancel your pending gift; what is unclaimed comes back',
  request: { params: IdParam },
  responses: { 200: json(GiftSettled, 'The gift, CANCELLED'), ...errors(...USER_ERRORS, 404, 409) },
})

export function pointsRoutes(deps: OriginDeps) {
  const db = deps.db.primary
  const app = router()
  app.use(requireUser(deps))
  return app
    .openapi(balance, async (c) =>
      c.json(await balanceOf(db, c.get('userId'), deps.config.POINTS_EXPIRY_NOTICE_SECONDS), 200),
    )
    .openapi(records, async (c) => c.json(await recordsOf(db, c.get('userId'), c.req.valid('query')), 200))
    .openapi(createGiftRoute, (c) =>
      idempotent(c, deps, async (tx, now) => {
        const input = c.req.valid('json')
        const gift = await createGift(tx, {
          senderUserId: c.get('userId'),
          points: input.points,
          message: input.message,
          count: input.count,
          split: input.split,
          ttlSeconds: deps.config.GIFT_TTL_SECONDS,
          dailyMaxPoints: deps.config.GIFT_DAILY_MAX_POINTS,
          now,
        })
        deps.metrics.gifts.inc({ status: 'PENDING' })
        return { status: 201, body: giftView(gift, []) }
      }),
    )
    .openapi(viewGift, async (c) => c.json(await viewGiftByCode(db, c.req.valid('param').code), 200))
    .openapi(claim, async (c) => {
      const result = await claimGift(
        db,
        c.req.valid('param').code,
        c.get('userId'),
        deps.config.WECHAT_TEMPLATE_GIFT_CLAIMED,
      )
      if (result.gift.status === 'CLAIMED') deps.metrics.gifts.inc({ status: 'CLAIMED' })
      return c.json(result, 200)
    })
    .openapi(cancel, async (c) => {
      const result = await cancelGift(db, Number(c.req.valid('param').id), c.get('userId'))
      deps.metrics.gifts.inc({ status: 'CANCELLED' })
      return c.json(result, 200)
    })
}
