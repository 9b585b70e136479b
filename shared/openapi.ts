/**
 * The OpenAPI 3 document, generated from the same zod schemas the edge, origin and tests use. Only
 * the route table below is written by hand; every body and answer shape comes from schemas.ts.
 */
import { z } from 'zod'
import * as S from './schemas.ts'

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete'
type Access = 'public' | 'user' | 'merchant' | 'owner' | 'admin' | 'wechat'

interface RouteDoc {
  method: Method
  path: string
  summary: string
  access: Access
  idempotent?: boolean
  query?: z.ZodObject
  body?: z.ZodType
  status: number
  answer?: z.ZodType
}

const list = (item: z.ZodType) => S.page(item)

export const API_ROUTES: RouteDoc[] = [
  {
    method: 'post',
    path: '/api/auth/login',
    summary: 'Log in with a wx.login code',
    access: 'public',
    body: S.LoginRequest,
    status: 200,
    answer: S.LoginResponse,
  },
  { method: 'get', path: '/api/me', summary: 'The caller', access: 'user', status: 200, answer: S.Me },
  {
    method: 'patch',
    path: '/api/me',
    summary: 'Update nickname or avatar',
    access: 'user',
    body: S.UpdateMeRequest,
    status: 200,
    answer: S.Me,
  },
  {
    method: 'get',
    path: '/api/merchants/{id}',
    summary: 'Public merchant page (cacheable; 404 unless ACTIVE)',
    access: 'public',
    status: 200,
    answer: S.PublicMerchant,
  },
  {
    method: 'post',
    path: '/api/merchants/applications',
    summary: 'Apply to become a merchant',
    access: 'user',
    body: S.MerchantApplication,
    status: 201,
    answer: z.object({ merchantId: z.string(), status: z.literal('PENDING_REVIEW') }),
  },
  {
    method: 'post',
    path: '/api/orders',
    summary: 'Create an order and its WeChat prepay',
    access: 'user',
    idempotent: true,
    body: S.CreateOrderRequest,
    status: 201,
    answer: S.CreatedOrder,
  },
  {
    method: 'get',
    path: '/api/orders/{id}',
    summary: "The payer's order (asks WeChat when PENDING for over 5 s)",
    access: 'user',
    status: 200,
    answer: S.Order,
  },
  {
    method: 'get',
    path: '/api/orders',
    summary: "The caller's orders",
    access: 'user',
    query: S.ListQuery,
    status: 200,
    answer: list(S.Order),
  },
  {
    method: 'get',
    path: '/api/points/balance',
    summary: 'Balance, points held in gifts, total earned',
    access: 'user',
    status: 200,
    answer: S.Balance,
  },
  {
    method: 'get',
    path: '/api/points/records',
    summary: 'Points history, newest first',
    access: 'user',
    query: S.ListQuery,
    status: 200,
    answer: list(S.PointsRecord),
  },
  {
    method: 'post',
    path: '/api/points/gifts',
    summary: 'Create a gift; the points are held at once',
    access: 'user',
    idempotent: true,
    body: S.CreateGiftRequest,
    status: 201,
    answer: S.Gift,
  },
  {
    method: 'get',
    path: '/api/points/gifts/{code}',
    summary: 'Look at a gift by its code',
    access: 'user',
    status: 200,
    answer: S.GiftView,
  },
  {
    method: 'post',
    path: '/api/points/gifts/{code}/claim',
    summary: 'Claim a gift',
    access: 'user',
    status: 200,
    answer: S.GiftSettled,
  },
  {
    method: 'post',
    path: '/api/points/gifts/{id}/cancel',
    summary: 'Cancel your pending gift',
    access: 'user',
    status: 200,
    answer: S.GiftSettled,
  },
  {
    method: 'get',
    path: '/api/merchant',
    summary: 'Your merchant',
    access: 'merchant',
    status: 200,
    answer: S.Merchant,
  },
  {
    method: 'patch',
    path: '/api/merchant',
    summary: 'Edit the merchant profile',
    access: 'owner',
    body: S.UpdateMerchantRequest,
    status: 200,
    answer: S.Merchant,
  },
  {
    method: 'put',
    path: '/api/merchant/rule',
    summary: 'Set the earning rule',
    access: 'owner',
    body: S.Rule,
    status: 200,
    answer: S.Merchant,
  },
  {
    method: 'get',
    path: '/api/merchant/orders',
    summary: "The merchant's orders",
    access: 'merchant',
    query: S.MerchantOrdersQuery,
    status: 200,
    answer: list(S.MerchantOrder),
  },
  {
    method: 'post',
    path: '/api/merchant/orders/{id}/refunds',
    summary: 'Refund (part of) an order',
    access: 'owner',
    idempotent: true,
    body: S.RefundRequest,
    status: 202,
    answer: S.RefundAccepted,
  },
  {
    method: 'get',
    path: '/api/merchant/refunds/{id}',
    summary: 'A refund',
    access: 'merchant',
    status: 200,
    answer: S.Refund,
  },
  {
    method: 'post',
    path: '/api/merchant/grants',
    summary: 'Grant points to a user',
    access: 'owner',
    idempotent: true,
    body: S.GrantRequest,
    status: 201,
  },
  {
    method: 'get',
    path: '/api/merchant/stats',
    summary: 'Orders, money and points over a range',
    access: 'merchant',
    query: S.StatsQuery,
    status: 200,
    answer: S.MerchantStats,
  },
  {
    method: 'get',
    path: '/api/merchant/qrcode',
    summary: 'The mini-program code that opens the pay page (image/png or image/jpeg)',
    access: 'merchant',
    status: 200,
  },
  {
    method: 'post',
    path: '/api/merchant/staff',
    summary: 'Add a staff member',
    access: 'owner',
    body: S.StaffRequest,
    status: 201,
  },
  {
    method: 'delete',
    path: '/api/merchant/staff/{userId}',
    summary: 'Remove a staff member',
    access: 'owner',
    status: 204,
  },
  {
    method: 'get',
    path: '/api/admin/merchants',
    summary: 'Merchants by status',
    access: 'admin',
    query: S.AdminMerchantsQuery,
    status: 200,
    answer: list(S.Merchant),
  },
  {
    method: 'post',
    path: '/api/admin/merchants/{id}/approve',
    summary: 'Approve (or re-activate) a merchant',
    access: 'admin',
    status: 200,
    answer: S.Merchant,
  },
  {
    method: 'post',
    path: '/api/admin/merchants/{id}/reject',
    summary: 'Reject an application',
    access: 'admin',
    status: 200,
    answer: S.Merchant,
  },
  {
    method: 'post',
    path: '/api/admin/merchants/{id}/suspend',
    summary: 'Suspend a merchant',
    access: 'admin',
    status: 200,
    answer: S.Merchant,
  },
  {
    method: 'put',
    path: '/api/admin/merchants/{id}/payment',
    summary: 'Set the WeChat Pay sub-merchant id (partner mode)',
    access: 'admin',
    body: S.MerchantPaymentRequest,
    status: 200,
    answer: S.Merchant,
  },
  {
    method: 'post',
    path: '/api/admin/reconciliations',
    summary: 'Reconcile a day against the WeChat Pay trade bill now',
    access: 'admin',
    body: S.ReconciliationRequest,
    status: 200,
    answer: S.ReconciliationReport,
  },
  {
    method: 'get',
    path: '/api/admin/reconciliations/{date}',
    summary: 'The stored reconciliation report of a day',
    access: 'admin',
    status: 200,
    answer: S.ReconciliationReport,
  },
  {
    method: 'post',
    path: '/api/admin/adjustments',
    summary: 'Adjust a balance (±)',
    access: 'admin',
    idempotent: true,
    body: S.AdjustmentRequest,
    status: 201,
  },
  { method: 'get', path: '/api/admin/stats', summary: 'Platform stats', access: 'admin', status: 200 },
  {
    method: 'get',
    path: '/api/admin/audit-log',
    summary: 'Admin and merchant-owner writes',
    access: 'admin',
    query: S.ListQuery,
    status: 200,
    answer: list(S.AuditEntry),
  },
  {
    method: 'post',
    path: '/api/payment/callback',
    summary: 'WeChat Pay payment notification (origin only, WeChat-signed)',
    access: 'wechat',
    status: 204,
  },
  {
    method: 'post',
    path: '/api/refund/callback',
    summary: 'WeChat Pay refund notification (origin only, WeChat-signed)',
    access: 'wechat',
    status: 204,
  },
]

const schema = (s: z.ZodType) =>
  z.toJSONSchema(s, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' })

function operation(route: RouteDoc) {
  const params: object[] = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }))
  for (const [name, field] of Object.entries(route.query?.shape ?? {})) {
    params.push({ name, in: 'query', required: false, schema: schema(field as z.ZodType) })
  }
  if (route.idempotent) {
    params.push({ name: 'Idempotency-Key', in: 'header', required: false, schema: schema(S.IdempotencyKey) })
  }
  const errors = {
    description: 'Error (API.md §1)',
    content: { 'application/json': { schema: schema(S.ErrorResponse) } },
  }
  return {
    summary: route.summary,
    tags: [route.access],
    security: route.access === 'public' || route.access === 'wechat' ? [] : [{ bearer: [] }],
    parameters: params,
    ...(route.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: schema(route.body) } } } }
      : {}),
    responses: {
      [route.status]: route.answer
        ? { description: 'OK', content: { 'application/json': { schema: schema(route.answer) } } }
        : { description: 'OK' },
      '4XX': errors,
      '5XX': errors,
    },
  }
}

export function openApiDocument(serverUrl = '/') {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const route of API_ROUTES) {
    paths[route.path] ??= {}
    paths[route.path]![route.method] = operation(route)
  }
  return {
    openapi: '3.0.3',
    info: { title: 'Points — WeChat mini-program loyalty points', version: '1.0.0' },
    servers: [{ url: serverUrl }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    paths,
  }
}
