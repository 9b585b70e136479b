import { Hono } from 'hono'
import { z } from 'zod'
import { CreateGiftRequest, GiftCode, ListQuery } from '../../shared/schemas.ts'
import { requireUser } from '../http/auth.ts'
import type { AppEnv, OriginDeps } from '../http/context.ts'
import { idempotent } from '../http/idempotent.ts'
import { valid } from '../http/validate.ts'
import { cancelGift, claimGift, createGift, giftView, viewGiftByCode } from '../services/gifts.ts'
import { balanceOf, recordsOf } from '../services/points.ts'
import { IdParam } from './merchants.ts'

const CodeParam = z.object({ code: GiftCode })

export function pointsRoutes(deps: OriginDeps) {
  const db = deps.db.primary
  return new Hono<AppEnv>()
    .use(requireUser(deps.config.JWT_SECRET))
    .get('/balance', async (c) => c.json(await balanceOf(db, c.get('userId'))))
    .get('/records', valid('query', ListQuery), async (c) =>
      c.json(await recordsOf(db, c.get('userId'), c.req.valid('query'))),
    )
    .post('/gifts', valid('json', CreateGiftRequest), (c) =>
      idempotent(c, deps, async (tx, now) => {
        const input = c.req.valid('json')
        const gift = await createGift(tx, {
          senderUserId: c.get('userId'),
          points: input.points,
          message: input.message,
          ttlSeconds: deps.config.GIFT_TTL_SECONDS,
          now,
        })
        deps.metrics.gifts.inc({ status: 'PENDING' })
        return { status: 201, body: giftView(gift) }
      }),
    )
    .get('/gifts/:code', valid('param', CodeParam), async (c) =>
      c.json(await viewGiftByCode(db, c.req.valid('param').code)),
    )
    .post('/gifts/:code/claim', valid('param', CodeParam), async (c) => {
      const result = await claimGift(
        db,
        c.req.valid('param').code,
        c.get('userId'),
        deps.config.WECHAT_TEMPLATE_GIFT_CLAIMED,
      )
      deps.metrics.gifts.inc({ status: 'CLAIMED' })
      return c.json(result)
    })
    .post('/gifts/:id/cancel', valid('param', IdParam), async (c) => {
      const result = await cancelGift(db, Number(c.req.valid('param').id), c.get('userId'))
      deps.metrics.gifts.inc({ status: 'CANCELLED' })
      return c.json(result)
    })
}
