/**
 * Request and response shapes of API.md, as zod schemas: the single source of types for the edge,
 * the origin, the tests and the load scripts' fixtures.
 */
import { z } from 'zod'

export const MAX_AMOUNT_FEN = 1_000_000_000
export const MAX_GIFT_POINTS = 1_000_000
export const MAX_GRANT_POINTS = 1_000_000
export const MAX_ADJUST_POINTS = 100_000_000

const id = z.string().regex(/^[1-9][0-9]{0,17}$/, 'must be an id')
const isoTime = z.string()
/** MySQL's JSON columns reject lone UTF-16 surrogates ("\ud800"): refuse them at the door. */
const wellFormed = (s: string) => !/\p{Cs}/u.test(s)
/**
 * Characters that change how text around them is shown without being visible themselves: C0 and C1
 * controls, bidi embeddings, overrides, isolates and marks, and zero-width characters. Text one
 * user writes and others read (names, messages, reasons) could use them to disguise itself, e.g. a
 * right-to-left override that turns "gpj.exe" around, so they are removed wherever it is accepted.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is its job
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/g
export const cleanDisplayText = (s: string) => s.replace(INVISIBLE, '')

/**
 * Display text: cleaned, then trimmed, then measured, so a value that is only invisible characters
 * or spaces fails `min` like an empty one (400, not a blank name). `overwrite` keeps it a string
 * schema, so the OpenAPI document still shows its length limits.
 */
const text = (max: number, min = 0) =>
  z
    .string()
    .refine(wellFormed, 'must be valid Unicode text')
    .overwrite(cleanDisplayText)
    .trim()
    .min(min)
    .max(max)

export const IdempotencyKey = z
  .string()
  .regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8..64 characters of [A-Za-z0-9_-]')

export const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z
    .string()
    .regex(/^[1-9][0-9]{0,17}$/, 'must be a cursor from nextCursor')
    .optional(),
})
export type ListQuery = z.infer<typeof ListQuery>
export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() })

export const ROLES = ['user', 'merchant_owner', 'merchant_staff', 'admin'] as const
export type Role = (typeof ROLES)[number]

export const LoginRequest = z.object({ code: z.string().min(1).max(128) })
export const LoginResponse = z.object({
  token: z.string(),
  expiresAt: isoTime,
  user: z.object({ id, roles: z.array(z.enum(ROLES)), merchantId: id.nullable() }),
})

export const Me = z.object({
  id,
  nickname: z.string(),
  avatarUrl: z.string(),
  roles: z.array(z.enum(ROLES)),
  merchantId: id.nullable(),
})
export const UpdateMeRequest = z
  .object({
    nickname: text(32, 1).optional(),
    avatarUrl: z
      .url({ protocol: /^https?$/ })
      .max(512)
      .refine(wellFormed, 'must be valid Unicode text')
      .optional(),
  })
  .strict()

export const Rule = z.object({
  earnPoints: z.number().int().min(0).max(1_000_000),
  perFen: z.number().int().min(1).max(MAX_AMOUNT_FEN),
  minOrderFen: z.number().int().min(0).max(MAX_AMOUNT_FEN),
  maxPointsPerOrder: z
    .number()
    .int()
    .min(0)
    .max(MAX_GRANT_POINTS * 100)
    .nullable(),
  dailyCapPerUser: z
    .number()
    .int()
    .min(0)
    .max(MAX_GRANT_POINTS * 100)
    .nullable(),
  /** API.md §14: fen off per redeemed point; null (the default) means no redemption here. */
  redeemFenPerPoint: z.number().int().min(1).max(MAX_AMOUNT_FEN).nullable().default(null),
  /** The largest share of an order's amount points may pay, in percent. */
  redeemMaxPercent: z.number().int().min(1).max(100).default(100),
})
export type Rule = z.infer<typeof Rule>
export const DEFAULT_RULE: Rule = {
  earnPoints: 1,
  perFen: 100,
  minOrderFen: 0,
  maxPointsPerOrder: null,
  dailyCapPerUser: null,
  redeemFenPerPoint: null,
  redeemMaxPercent: 100,
}

export const MERCHANT_STATUSES = ['PENDING_REVIEW', 'ACTIVE', 'REJECTED', 'SUSPENDED'] as const
export const PublicMerchant = z.object({
  id,
  name: z.string(),
  description: z.string(),
  logoUrl: z.string(),
  status: z.enum(MERCHANT_STATUSES),
  rule: Rule,
})
export const Merchant = PublicMerchant.extend({
  ownerUserId: id,
  /** WeChat Pay sub-merchant id (partner mode, API.md §11); null until an admin sets it. */
  subMchid: z.string().nullable(),
  contactPhone: z.string(),
  createdAt: isoTime,
  updatedAt: isoTime,
})

export const phone = z.string().regex(/^\+?[0-9]{6,20}$/, 'must be a phone number of 6..20 digits')
export const MerchantApplication = z.object({
  name: text(64, 1),
  description: text(500).optional(),
  contactPhone: phone,
})
export const UpdateMerchantRequest = z
  .object({
    name: text(64, 1).optional(),
    description: text(500).optional(),
    logoUrl: z
      .url({ protocol: /^https?$/ })
      .max(512)
      .refine(wellFormed, 'must be valid Unicode text')
      .optional(),
  })
  .strict()

export const StaffRequest = z.object({ userId: id, role: z.literal('merchant_staff') })
export const INVITATION_STATUSES = ['PENDING', 'ACCEPTED', 'DECLINED', 'CANCELLED'] as const
export const StaffInvited = z.object({
  invitationId: id,
  status: z.literal('PENDING'),
  merchantId: id,
  userId: id,
  role: z.literal('merchant_staff'),
})
export const Invitation = z.object({
  id,
  merchantId: id,
  merchantName: z.string(),
  role: z.literal('merchant_staff'),
  status: z.enum(INVITATION_STATUSES),
  createdAt: isoTime,
  respondedAt: isoTime.nullable(),
})
export const InvitationsQuery = ListQuery.extend({ status: z.enum(INVITATION_STATUSES).optional() })
export const GrantRequest = z.object({
  userId: id,
  points: z.number().int().min(1).max(MAX_GRANT_POINTS),
  reason: text(200, 1),
})
export const AdjustmentRequest = z.object({
  userId: id,
  points: z
    .number()
    .int()
    .min(-MAX_ADJUST_POINTS)
    .max(MAX_ADJUST_POINTS)
    .refine((n) => n !== 0, 'must not be 0'),
  reason: text(200, 1),
})

export const Balance = z.object({
  balance: z.number(),
  heldInGifts: z.number(),
  totalEarned: z.number(),
  /** Points in lots expiring within POINTS_EXPIRY_NOTICE_SECONDS, and the earliest expiry (API.md §14). */
  expiringSoon: z.object({ points: z.number().int(), at: isoTime }).nullable(),
})

export const RECORD_KINDS = [
  'EARN',
  'REFUND_CLAWBACK',
  'GIFT_SEND',
  'GIFT_RECEIVE',
  'GIFT_RETURN',
  'MERCHANT_GRANT',
  'ADMIN_ADJUST',
  'REDEEM',
  'REDEEM_RETURN',
  'EXPIRE',
  'ACCOUNT_CLOSED',
] as const
export const PointsRecord = z.object({
  id,
  delta: z.number(),
  balanceAfter: z.number(),
  kind: z.enum(RECORD_KINDS),
  refId: z.string().nullable(),
  merchantId: id.nullable(),
  createdAt: isoTime,
})

export const GIFT_STATUSES = ['PENDING', 'CLAIMED', 'CANCELLED', 'EXPIRED'] as const
/** How a group gift (红包) is cut into shares (API.md §14). */
export const GIFT_SPLITS = ['even', 'random'] as const
export const MAX_GIFT_SHARES = 100
export const GiftCode = z.string().regex(/^[A-Za-z0-9]{8,32}$/, 'must be a gift code')
export const CreateGiftRequest = z
  .object({
    points: z.number().int().min(1).max(MAX_GIFT_POINTS),
    message: text(200).optional(),
    count: z.number().int().min(1).max(MAX_GIFT_SHARES).optional(),
    split: z.enum(GIFT_SPLITS).optional(),
  })
  .refine((g) => g.count === undefined || g.count <= g.points, {
    message: 'must not exceed points: every share is at least 1 point',
    path: ['count'],
  })
const giftShares = {
  count: z.number(),
  split: z.enum(GIFT_SPLITS),
  claimedCount: z.number(),
  remainingPoints: z.number(),
  /** Oldest first; a deleted account's claims keep their points with an empty nickname. */
  claims: z.array(z.object({ nickname: z.string(), points: z.number(), claimedAt: isoTime })),
}
export const Gift = z.object({
  id,
  code: z.string(),
  points: z.number(),
  message: z.string(),
  status: z.enum(GIFT_STATUSES),
  expiresAt: isoTime,
  ...giftShares,
})
export const GiftView = z.object({
  code: z.string(),
  points: z.number(),
  message: z.string(),
  status: z.enum(GIFT_STATUSES),
  sender: z.object({ nickname: z.string() }),
  expiresAt: isoTime,
  ...giftShares,
})
export const GiftSettled = z.object({ gift: Gift, balance: z.number() })
/** `share`: the points this claim received. */
export const GiftClaimed = GiftSettled.extend({ share: z.number() })

export const ORDER_STATUSES = ['PENDING', 'PAID', 'PARTIALLY_REFUNDED', 'REFUNDED', 'CLOSED'] as const
/** Delivery reported to WeChat (API.md §12). */
export const SHIPPING_STATUSES = ['PENDING', 'UPLOADED', 'FAILED'] as const
export const MerchantOrdersQuery = ListQuery.extend({
  status: z.enum(ORDER_STATUSES).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
})
export const RefundRequest = z.object({
  amountFen: z.number().int().min(1).max(MAX_AMOUNT_FEN),
  reason: text(80).default(''),
})
export const CreateOrderRequest = z.object({
  merchantId: id,
  amountFen: z.number().int().min(1).max(MAX_AMOUNT_FEN),
  /** Points to pay part of the amount with (API.md §14). */
  redeemPoints: z.number().int().min(1).max(MAX_AMOUNT_FEN).optional(),
})
/** API.md §11: a WeChat Pay sub-merchant id (特约商户号) is 1..32 digits. */
export const MerchantPaymentRequest = z.object({
  subMchid: z.string().regex(/^[0-9]{1,32}$/, 'must be 1..32 digits'),
})
/** An Asia/Shanghai calendar day (API.md §13). */
export const ReconciliationRequest = z.object({
  date: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD')
    .refine(
      (d) =>
        !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d),
      'must be a real day',
    ),
})
const BillTotals = z.object({
  payments: z.number(),
  paidFen: z.number(),
  refunds: z.number(),
  refundedFen: z.number(),
})
export const ReconciliationReport = z.object({
  date: z.string(),
  status: z.enum(['DONE', 'FAILED']),
  wechat: BillTotals,
  local: BillTotals,
  matched: z.number(),
  fixed: z.array(z.object({ outTradeNo: z.string(), action: z.literal('APPLIED_PAYMENT') })),
  mismatches: z.array(
    z.object({
      kind: z.enum(['MISSING_LOCAL', 'MISSING_REMOTE', 'AMOUNT', 'STATE']),
      outTradeNo: z.string(),
      outRefundNo: z.string().optional(),
      detail: z.string(),
    }),
  ),
  error: z.object({ message: z.string(), line: z.number().optional() }).optional(),
})
export const AdminMerchantsQuery = ListQuery.extend({ status: z.enum(MERCHANT_STATUSES).optional() })
export const StatsQuery = z.object({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
})

export const AuditEntry = z.object({
  id,
  actorUserId: id,
  actorRole: z.string(),
  action: z.string(),
  targetType: z.string(),
  targetId: z.string(),
  details: z.unknown(),
  createdAt: isoTime,
})

export const PayParams = z.object({
  appId: z.string(),
  timeStamp: z.string(),
  nonceStr: z.string(),
  package: z.string(),
  signType: z.literal('RSA'),
  paySign: z.string(),
})
export const CreatedOrder = z.object({
  id,
  outTradeNo: z.string(),
  status: z.literal('PENDING'),
  merchantId: id,
  amountFen: z.number(),
  redeemPoints: z.number(),
  discountFen: z.number(),
  payableFen: z.number(),
  expectedPoints: z.number(),
  expiresAt: isoTime,
  payParams: PayParams,
})
export const Order = z.object({
  id,
  outTradeNo: z.string(),
  merchantId: id,
  amountFen: z.number(),
  redeemPoints: z.number(),
  discountFen: z.number(),
  payableFen: z.number(),
  status: z.enum(ORDER_STATUSES),
  pointsAwarded: z.number(),
  refundedFen: z.number(),
  paidAt: isoTime.nullable(),
  createdAt: isoTime,
  /** null until PAID. */
  shippingStatus: z.enum(SHIPPING_STATUSES).nullable(),
})
export const MerchantOrder = Order.extend({ userId: id, pointsClawedBack: z.number() })
export const REFUND_STATUSES = ['PROCESSING', 'SUCCESS', 'FAILED'] as const
export const RefundAccepted = z.object({
  id,
  outRefundNo: z.string(),
  status: z.enum(REFUND_STATUSES),
  amountFen: z.number(),
})
export const Refund = RefundAccepted.extend({
  orderId: id,
  reason: z.string(),
  pointsClawedBack: z.number(),
  createdAt: isoTime,
})
export const MerchantStats = z.object({
  orders: z.number(),
  paidFen: z.number(),
  refundedFen: z.number(),
  pointsIssued: z.number(),
  pointsClawedBack: z.number(),
  /** Redeemed points and their discount, net of what closes and refunds gave back. */
  pointsRedeemed: z.number(),
  discountFen: z.number(),
  customers: z.number(),
})
export const ErrorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
  requestId: z.string(),
})

export const Grant = z.object({
  id,
  transferId: id,
  merchantId: id,
  userId: id,
  points: z.number(),
  reason: z.string(),
})
/** A user's standing as an admin sees it after freeze/unfreeze (API.md §14). */
export const UserStanding = z.object({ id, frozen: z.boolean(), frozenAt: isoTime.nullable() })
export const AccountDeleted = z.object({ deleted: z.literal(true) })
export const Adjustment = z.object({
  id,
  transferId: id,
  userId: id,
  points: z.number(),
  reason: z.string(),
  balance: z.number(),
})
export const PlatformStats = z.object({
  users: z.number(),
  merchants: z.record(z.string(), z.number()),
  pointsOutstanding: z.number(),
  pendingGifts: z.object({ count: z.number(), points: z.number() }),
  orders: z.record(z.string(), z.number()),
  paidFen: z.number(),
  refundedFen: z.number(),
})

/** Up to about a quarter of Asia/Shanghai days, both ends included (API.md §17). */
export const MAX_DAILY_STATS_DAYS = 92
export const DailyStatsQuery = z
  .object({ from: z.iso.date(), to: z.iso.date() })
  .refine((q) => q.from <= q.to, { path: ['to'], message: 'must not be before from' })
  .refine((q) => (Date.parse(q.to) - Date.parse(q.from)) / 86_400_000 < MAX_DAILY_STATS_DAYS, {
    path: ['to'],
    message: `the range may cover at most ${MAX_DAILY_STATS_DAYS} days`,
  })
export const DailyStats = z.object({
  items: z.array(
    z.object({
      date: z.iso.date(),
      orders: z.number(),
      paidFen: z.number(),
      refundedFen: z.number(),
      pointsIssued: z.number(),
      pointsClawedBack: z.number(),
    }),
  ),
})

export const CONSOLE_SESSION_STATUSES = ['PENDING', 'APPROVED', 'EXPIRED', 'USED'] as const
export const ConsoleSessionId = z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'must be a session id')
export const ConsoleSessionCreated = z.object({
  id: ConsoleSessionId,
  qrcode: z.string(),
  expiresAt: isoTime,
})
export const ConsoleSessionState = z.object({
  status: z.enum(CONSOLE_SESSION_STATUSES),
  expiresAt: isoTime,
  token: z.string().optional(),
  tokenExpiresAt: isoTime.optional(),
})
