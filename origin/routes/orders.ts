import { Hono } from 'hono'
import { CreateOrderRequest, ListQuery } from '../../shared/schemas.ts'
import { requireUser } from '../http/auth.ts'
import type { AppEnv, OriginDeps } from '../http/context.ts'
import { idempotencyScope, storedResponse } from '../http/idempotent.ts'
import { valid } from '../http/validate.ts'
import { listUserOrders, orderView } from '../services/order-queries.ts'
import { createOrder, getOrderForPayer } from '../services/orders.ts'
import { IdParam } from './merchants.ts'

export function orderRoutes(deps: OriginDeps) {
  return new Hono<AppEnv>()
    .use(requireUser(deps))
    .post('/', valid('json', CreateOrderRequest), async (c) => {
      const input = c.req.valid('json')
      const result = await createOrder(deps, {
        userId: c.get('userId'),
        merchantId: Number(input.merchantId),
        amountFen: input.amountFen,
        idempotency: await idempotencyScope(c),
      })
      return storedResponse(c, result)
    })
    .get('/', valid('query', ListQuery), async (c) =>
      c.json(await listUserOrders(deps.db.primary, c.get('userId'), c.req.valid('query'))),
    )
    .get('/:id', valid('param', IdParam), async (c) =>
      c.json(orderView(await getOrderForPayer(deps, c.get('userId'), Number(c.req.valid('param').id)))),
    )
}
