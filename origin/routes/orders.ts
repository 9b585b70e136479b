import { createRoute } from '@hono/zod-openapi'
import { CreateOrderRequest, ListQuery } from '../../shared/schemas.ts'
import { requireUser } from '../http/auth.ts'
import type { OriginDeps } from '../http/context.ts'
import { idempotencyScope, storedResponse } from '../http/idempotent.ts'
import { router } from '../http/openapi.ts'
import { listUserOrders, orderView } from '../services/order-queries.ts'
import { createOrder, getOrderForPayer } from '../services/orders.ts'
import {
  bearer,
  body,
  CreatedOrder,
  errors,
  IdParam,
  idempotencyKeyHeader,
  json,
  Order,
  OrderPage,
  USER_ERRORS,
} from './components.ts'

const tags = ['orders']

const create = createRoute({
  method: 'post',
  path: '/',
  operationId: 'createOrder',
  summary: 'Create an order and its WeChat prepay',
  tags,
  security: bearer,
  parameters: [idempotencyKeyHeader],
  request: { body: body(CreateOrderRequest) },
  responses: {
    201: json(CreatedOrder, 'The order, PENDING, with the wx.requestPayment parameters'),
    ...errors(...USER_ERRORS, 404, 409, 422, 502),
  },
})

const list = createRoute({
  method: 'get',
  path: '/',
  operationId: 'listOrders',
  summary: "The caller's orders, newest first",
  tags,
  security: bearer,
  request: { query: ListQuery },
  responses: { 200: json(OrderPage, 'A page of orders'), ...errors(...USER_ERRORS) },
})

const get = createRoute({
  method: 'get',
  path: '/{id}',
  operationId: 'getOrder',
  summary: "The payer's order (asks WeChat when PENDING for over 5 s)",
  tags,
  security: bearer,
  request: { params: IdParam },
  responses: { 200: json(Order, 'The order'), ...errors(...USER_ERRORS, 404) },
})

export function orderRoutes(deps: OriginDeps) {
  const app = router()
  app.use(requireUser(deps))
  return app
    .openapi(create, async (c) => {
      const input = c.req.valid('json')
      const result = await createOrder(deps, {
        userId: c.get('userId'),
        merchantId: Number(input.merchantId),
        amountFen: input.amountFen,
        redeemPoints: input.redeemPoints,
        idempotency: await idempotencyScope(c),
      })
      return storedResponse(c, result)
    })
    .openapi(list, async (c) =>
      c.json(await listUserOrders(deps.db.primary, c.get('userId'), c.req.valid('query')), 200),
    )
    .openapi(get, async (c) =>
      c.json(orderView(await getOrderForPayer(deps, c.get('userId'), Number(c.req.valid('param').id))), 200),
    )
}
