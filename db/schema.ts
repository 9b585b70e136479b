/**
 * The points ledger and the business objects around it. Points and money are integers (points,
 * fen); times are UTC DATETIME(3) written by the application. Only SQL that MySQL 8, MariaDB 10.11
 * and TiDB all accept: no triggers, no procedures, no CHECK-dependent logic.
 */
import {
  bigint,
  boolean,
  date,
  datetime,
  index,
  int,
  json,
  mysqlEnum,
  mysqlTable,
  primaryKey,
  uniqueIndex,
  varchar,
} from 'drizzle-orm/mysql-core'
import {
  GIFT_SPLITS,
  GIFT_STATUSES,
  INVITATION_STATUSES,
  MERCHANT_STATUSES,
  ORDER_STATUSES,
  RECORD_KINDS,
  REFUND_STATUSES,
  SHIPPING_STATUSES,
} from '../shared/schemas.ts'

const id = (name = 'id') => bigint(name, { mode: 'number', unsigned: true }).autoincrement().primaryKey()
/**
 * A column naming another row. No foreign keys (migration 0010 dropped them, docs/SCALING.md):
 * on a distributed MySQL-compatible database each check is a remote read inside the writing
 * transaction. The services check that what a request names exists, under the row lock where it
 * matters (test/security/real-users.test.ts), and rows are never deleted, so nothing is left
 * pointing nowhere.
 */
const ref = (name: string) => bigint(name, { mode: 'number', unsigned: true })
const points = (name: string) => bigint(name, { mode: 'number' })
const fen = (name: string) => bigint(name, { mode: 'number' })
const utc = (name: string) => datetime(name, { mode: 'date', fsp: 3 })

export const users = mysqlTable('users', {
  id: id(),
  openid: varchar('openid', { length: 64 }).notNull().unique('users_openid_uq'),
  unionid: varchar('unionid', { length: 64 }),
  nickname: varchar('nickname', { length: 64 }).notNull().default(''),
  avatarUrl: varchar('avatar_url', { length: 512 }).notNull().default(''),
  createdAt: utc('created_at').notNull(),
  updatedAt: utc('updated_at').notNull(),
  /** Set by an admin (API.md §14): the user may read but not write. */
  frozenAt: utc('frozen_at'),
  /**
   * Set when the user deleted their account: profile erased and openid replaced by a placeholder,
   * so the same WeChat user logging in again gets a new row. The row stays for the ledger's sake.
   */
  deletedAt: utc('deleted_at'),
})

export const merchants = mysqlTable(
  'merchants',
  {
    id: id(),
    /** The applicant; becomes merchant_owner on approval. One merchant per applicant. */
    ownerUserId: ref('owner_user_id').notNull().unique('merchants_owner_uq'),
    name: varchar('name', { length: 64 }).notNull(),
    description: varchar('description', { length: 500 }).notNull().default(''),
    logoUrl: varchar('logo_url', { length: 512 }).notNull().default(''),
    contactPhone: varchar('contact_phone', { length: 255 }).notNull(),
    status: mysqlEnum('status', MERCHANT_STATUSES).notNull(),
    earnPoints: int('earn_points').notNull(),
    perFen: int('per_fen').notNull(),
    minOrderFen: fen('min_order_fen').notNull(),
    maxPointsPerOrder: points('max_points_per_order'),
    dailyCapPerUser: points('daily_cap_per_user'),
    /** Fen of discount per redeemed point (API.md §14); null: no redemption at this merchant. */
    redeemFenPerPoint: fen('redeem_fen_per_point'),
    redeemMaxPercent: int('redeem_max_percent').notNull().default(100),
    createdAt: utc('created_at').notNull(),
    updatedAt: utc('updated_at').notNull(),
    /** The merchant's WeChat Pay sub-merchant id (特约商户号); partner mode pays only into it. */
    subMchid: varchar('sub_mchid', { length: 32 }),
  },
  (t) => [index('merchants_status_idx').on(t.status, t.id)],
)

/** Staff membership; a user serves at most one merchant (the owner is on merchants). */
export const merchantStaff = mysqlTable(
  'merchant_staff',
  {
    userId: ref('user_id').primaryKey(),
    merchantId: ref('merchant_id').notNull(),
    createdAt: utc('created_at').notNull(),
  },
  (t) => [index('merchant_staff_merchant_idx').on(t.merchantId)],
)

/**
 * An owner's invitation to serve as staff (API.md §16): the user becomes staff only by accepting.
 * Rows are kept after the answer, as the record of who was asked and what they said.
 */
export const staffInvitations = mysqlTable(
  'staff_invitations',
  {
    id: id(),
    merchantId: ref('merchant_id').notNull(),
    userId: ref('user_id').notNull(),
    invitedByUserId: ref('invited_by_user_id').notNull(),
    role: varchar('role', { length: 32 }).notNull(),
    status: mysqlEnum('status', INVITATION_STATUSES).notNull(),
    createdAt: utc('created_at').notNull(),
    respondedAt: utc('responded_at'),
  },
  (t) => [
    index('staff_invitations_user_idx').on(t.userId, t.id),
    index('staff_invitations_merchant_user_idx').on(t.merchantId, t.userId, t.status),
  ],
)

export const ACCOUNT_KINDS = ['USER', 'MERCHANT_ISSUANCE', 'GIFT_ESCROW', 'PLATFORM'] as const
export type AccountKind = (typeof ACCOUNT_KINDS)[number]

/**
 * One row per account. Only USER accounts keep a stored balance and an entry sequence: they are
 * locked and updated inside the transaction that writes their entry. System accounts (merchant
 * issuance, gift escrow, platform) are never locked or updated — their balance is the sum of their
 * entries — so a busy merchant or the escrow never becomes one hot row that every commit queues on.
 */
export const accounts = mysqlTable(
  'accounts',
  {
    id: id(),
    kind: mysqlEnum('kind', ACCOUNT_KINDS).notNull(),
    ownerId: ref('owner_id').notNull(),
    balance: points('balance').notNull().default(0),
    lastSeq: bigint('last_seq', { mode: 'number', unsigned: true }).notNull().default(0),
    /** Net points from EARN, REFUND_CLAWBACK and MERCHANT_GRANT entries, kept beside the balance so
     * reading it never scans the history. */
    totalEarned: points('total_earned').notNull().default(0),
    createdAt: utc('created_at').notNull(),
  },
  (t) => [uniqueIndex('accounts_kind_owner_uq').on(t.kind, t.ownerId)],
)

/** A transfer's kind is also the kind of its entries in the user's records (API.md §2). */
export type TransferKind = (typeof RECORD_KINDS)[number]

/** One movement of points between two accounts; the business key makes every movement happen once. */
export const transfers = mysqlTable(
  'transfers',
  {
    id: id(),
    businessKey: varchar('business_key', { length: 96 }).notNull().unique('transfers_business_key_uq'),
    kind: mysqlEnum('kind', RECORD_KINDS).notNull(),
    debitAccountId: ref('debit_account_id').notNull(),
    creditAccountId: ref('credit_account_id').notNull(),
    points: points('points').notNull(),
    merchantId: ref('merchant_id'),
    refId: varchar('ref_id', { length: 64 }),
    createdAt: utc('created_at').notNull(),
  },
  (t) => [index('transfers_merchant_kind_idx').on(t.merchantId, t.kind, t.createdAt)],
)

/**
 * Two entries per transfer (debit −, credit +). USER entries carry seq and balanceAfter; the
 * UNIQUE (account, seq) index makes the chain gap-free and forbids two writers extending it from
 * the same point.
 */
export const ledgerEntries = mysqlTable(
  'ledger_entries',
  {
    id: id(),
    accountId: ref('account_id').notNull(),
    transferId: ref('transfer_id').notNull(),
    seq: bigint('seq', { mode: 'number', unsigned: true }),
    delta: points('delta').notNull(),
    balanceAfter: points('balance_after'),
    kind: mysqlEnum('kind', RECORD_KINDS).notNull(),
    refId: varchar('ref_id', { length: 64 }),
    merchantId: ref('merchant_id'),
    createdAt: utc('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('ledger_entries_account_seq_uq').on(t.accountId, t.seq),
    // Forced by name in the records page of releases before migration 0010; it reads (account, seq) now.
    index('ledger_entries_account_id_idx').on(t.accountId, t.id),
    index('ledger_entries_transfer_idx').on(t.transferId),
  ],
)

/**
 * Lots (API.md §14): a view on a USER account's credits saying when each point expires. Every
 * credit forms lots (after paying off any debt), every debit takes from the open lots that expire
 * first, so Σ remaining of open lots = max(0, balance). Written only by the ledger, under the
 * account's lock. `sourceTransferId` NULL: the balance carried over when lots were introduced.
 */
export const pointLots = mysqlTable(
  'point_lots',
  {
    id: id(),
    accountId: ref('account_id').notNull(),
    sourceTransferId: ref('source_transfer_id'),
    points: points('points').notNull(),
    remaining: points('remaining').notNull(),
    /** NULL: never expires (POINTS_TTL_SECONDS=0). */
    expiresAt: utc('expires_at'),
    /**
     * The sort and search key of open lots: expiresAt (far future for never) while points are
     * left, NULL once closed, so the indexes below never walk closed lots.
     */
    openUntil: utc('open_until'),
    /** The "points expiring soon" message was queued for this lot (API.md §15). */
    expiryNoticed: boolean('expiry_noticed').notNull().default(false),
    createdAt: utc('created_at').notNull(),
  },
  (t) => [
    // Covering for the FIFO read of a debit and for expiringSoon: no row lookups on the hot path.
    index('point_lots_account_open_idx').on(t.accountId, t.openUntil, t.remaining),
    index('point_lots_open_idx').on(t.openUntil),
    index('point_lots_notice_idx').on(t.expiryNoticed, t.openUntil),
  ],
)

/**
 * Which lots each USER debit took, so a later credit naming it (`lotsFrom`) restores or mirrors
 * them; `passedOn` is how much of that has been handed on, never more than `points`.
 */
export const transferLots = mysqlTable(
  'transfer_lots',
  {
    transferId: ref('transfer_id').notNull(),
    lotId: ref('lot_id').notNull(),
    points: points('points').notNull(),
    passedOn: points('passed_on').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.transferId, t.lotId] })],
)

export const gifts = mysqlTable(
  'gifts',
  {
    id: id(),
    code: varchar('code', { length: 32 }).notNull().unique('gifts_code_uq'),
    senderUserId: ref('sender_user_id').notNull(),
    points: points('points').notNull(),
    message: varchar('message', { length: 200 }).notNull().default(''),
    status: mysqlEnum('status', GIFT_STATUSES).notNull(),
    /** The first claimer; kept for single gifts' history. Group claims are in gift_shares. */
    claimedByUserId: ref('claimed_by_user_id'),
    shareCount: int('share_count').notNull().default(1),
    split: mysqlEnum('split', GIFT_SPLITS).notNull().default('even'),
    claimedCount: int('claimed_count').notNull().default(0),
    /** Points still in escrow: what a cancel or expiry returns, and the sender's heldInGifts. */
    remainingPoints: points('remaining_points').notNull().default(0),
    expiresAt: utc('expires_at').notNull(),
    createdAt: utc('created_at').notNull(),
    updatedAt: utc('updated_at').notNull(),
  },
  (t) => [
    index('gifts_sender_status_idx').on(t.senderUserId, t.status),
    index('gifts_status_expires_idx').on(t.status, t.expiresAt),
  ],
)

/**
 * A gift's shares, fixed at creation. A claim takes the lowest unclaimed index under the gift's row
 * lock; the primary key and UNIQUE (gift, claimer) make a share go once and a user claim once, even
 * if that lock discipline were broken.
 */
export const giftShares = mysqlTable(
  'gift_shares',
  {
    giftId: ref('gift_id').notNull(),
    shareIndex: int('share_index').notNull(),
    points: points('points').notNull(),
    claimedByUserId: ref('claimed_by_user_id'),
    claimedAt: utc('claimed_at'),
  },
  (t) => [
    primaryKey({ columns: [t.giftId, t.shareIndex] }),
    uniqueIndex('gift_shares_gift_claimer_uq').on(t.giftId, t.claimedByUserId),
  ],
)

/**
 * Points each user put into gifts per Asia/Shanghai day, for GIFT_DAILY_MAX_POINTS; updated like
 * merchant_daily_grants, under the day row's lock, so concurrent creates never pass the cap.
 */
export const giftDailySends = mysqlTable(
  'gift_daily_sends',
  {
    userId: ref('user_id').notNull(),
    day: date('day', { mode: 'string' }).notNull(),
    points: points('points').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.day] })],
)

export const orders = mysqlTable(
  'orders',
  {
    id: id(),
    outTradeNo: varchar('out_trade_no', { length: 32 }).notNull().unique('orders_out_trade_no_uq'),
    userId: ref('user_id').notNull(),
    merchantId: ref('merchant_id').notNull(),
    amountFen: fen('amount_fen').notNull(),
    status: mysqlEnum('status', ORDER_STATUSES).notNull(),
    /** The merchant's rule when the order was created: the one that applies to it. */
    ruleEarnPoints: int('rule_earn_points').notNull(),
    rulePerFen: int('rule_per_fen').notNull(),
    ruleMinOrderFen: fen('rule_min_order_fen').notNull(),
    ruleMaxPointsPerOrder: points('rule_max_points_per_order'),
    ruleDailyCapPerUser: points('rule_daily_cap_per_user'),
    pointsAwarded: points('points_awarded').notNull().default(0),
    /** Points redeemed at creation for `discountFen` off; WeChat is asked for `payableFen`. */
    redeemPoints: points('redeem_points').notNull().default(0),
    discountFen: fen('discount_fen').notNull().default(0),
    payableFen: fen('payable_fen').notNull(),
    /** Redeemed points given back so far, by a close or pro rata by refunds. */
    redeemReturned: points('redeem_returned').notNull().default(0),
    refundedFen: fen('refunded_fen').notNull().default(0),
    /** Refunds accepted but not finished: counted against what may still be refunded. */
    refundingFen: fen('refunding_fen').notNull().default(0),
    pointsClawedBack: points('points_clawed_back').notNull().default(0),
    prepayId: varchar('prepay_id', { length: 64 }),
    transactionId: varchar('transaction_id', { length: 64 }),
    paidAt: utc('paid_at'),
    expiresAt: utc('expires_at').notNull(),
    lastQueriedAt: utc('last_queried_at'),
    createdAt: utc('created_at').notNull(),
    updatedAt: utc('updated_at').notNull(),
    /** The sub-merchant paid by this order (partner mode), fixed at creation; null for a direct order. */
    subMchid: varchar('sub_mchid', { length: 32 }),
    /** Delivery reported to WeChat (API.md §12): null until PAID. */
    shippingStatus: mysqlEnum('shipping_status', SHIPPING_STATUSES),
    shippingAttempts: int('shipping_attempts').notNull().default(0),
    /** When the upload job may try next; also its claim on the order while it calls WeChat. */
    shippingNextAt: utc('shipping_next_at'),
    /** WeChat's errmsg of a FAILED upload, for operators. */
    shippingError: varchar('shipping_error', { length: 255 }),
  },
  (t) => [
    index('orders_user_idx').on(t.userId, t.id),
    index('orders_shipping_idx').on(t.shippingStatus, t.shippingNextAt),
    index('orders_merchant_idx').on(t.merchantId, t.id),
    index('orders_merchant_created_idx').on(t.merchantId, t.createdAt),
    index('orders_status_created_idx').on(t.status, t.createdAt),
  ],
)

/** Points awarded per user per merchant per Asia/Shanghai day, for dailyCapPerUser. */
export const dailyAwards = mysqlTable(
  'daily_awards',
  {
    userId: ref('user_id').notNull(),
    merchantId: ref('merchant_id').notNull(),
    day: date('day', { mode: 'string' }).notNull(),
    points: points('points').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.merchantId, t.day] })],
)

/**
 * Points each merchant granted per Asia/Shanghai day, for GRANT_DAILY_MAX_POINTS. A grant adds to
 * its row with a conditional UPDATE, whose row lock makes concurrent grants of one merchant count
 * one after another, so the cap is exact.
 */
export const merchantDailyGrants = mysqlTable(
  'merchant_daily_grants',
  {
    merchantId: ref('merchant_id').notNull(),
    day: date('day', { mode: 'string' }).notNull(),
    points: points('points').notNull(),
  },
  (t) => [primaryKey({ columns: [t.merchantId, t.day] })],
)

export const refunds = mysqlTable(
  'refunds',
  {
    id: id(),
    outRefundNo: varchar('out_refund_no', { length: 64 }).notNull().unique('refunds_out_refund_no_uq'),
    orderId: ref('order_id').notNull(),
    merchantId: ref('merchant_id').notNull(),
    amountFen: fen('amount_fen').notNull(),
    reason: varchar('reason', { length: 80 }).notNull().default(''),
    status: mysqlEnum('status', REFUND_STATUSES).notNull(),
    pointsClawedBack: points('points_clawed_back').notNull().default(0),
    wechatRefundId: varchar('wechat_refund_id', { length: 64 }),
    lastQueriedAt: utc('last_queried_at'),
    createdAt: utc('created_at').notNull(),
    updatedAt: utc('updated_at').notNull(),
  },
  (t) => [
    index('refunds_order_idx').on(t.orderId),
    // The merchant's stats sum its refunds; the foreign key's index served that until 0010.
    index('refunds_merchant_idx').on(t.merchantId),
    index('refunds_status_created_idx').on(t.status, t.createdAt),
  ],
)

/**
 * Idempotency records, written in the same transaction as the effect they guard: a concurrent
 * duplicate waits on the key's row lock and then reads the stored answer; a crash leaves neither.
 */
export const idempotencyKeys = mysqlTable(
  'idempotency_keys',
  {
    userId: ref('user_id').notNull(),
    idemKey: varchar('idem_key', { length: 64 }).notNull(),
    requestHash: varchar('request_hash', { length: 64 }).notNull(),
    responseStatus: int('response_status').notNull(),
    responseBody: json('response_body').notNull(),
    createdAt: utc('created_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.idemKey] }), index('idempotency_created_idx').on(t.createdAt)],
)

export const auditLog = mysqlTable(
  'audit_log',
  {
    id: id(),
    actorUserId: ref('actor_user_id').notNull(),
    actorRole: varchar('actor_role', { length: 32 }).notNull(),
    action: varchar('action', { length: 64 }).notNull(),
    targetType: varchar('target_type', { length: 32 }).notNull(),
    targetId: varchar('target_id', { length: 64 }).notNull(),
    details: json('details'),
    createdAt: utc('created_at').notNull(),
  },
  (t) => [index('audit_log_created_idx').on(t.createdAt)],
)

/**
 * One trade-bill reconciliation per Asia/Shanghai day (API.md §13). The row is also the run's
 * claim: a run takes it by moving it to RUNNING, so concurrent runs for a day produce one result.
 */
export const reconciliations = mysqlTable('reconciliations', {
  billDate: date('bill_date', { mode: 'string' }).primaryKey(),
  status: mysqlEnum('status', ['RUNNING', 'DONE', 'FAILED']).notNull(),
  report: json('report'),
  startedAt: utc('started_at').notNull(),
  finishedAt: utc('finished_at'),
})

/**
 * Transactional outbox: a message is written in the transaction of the change it reports, and a
 * job delivers it (API.md §15), so a crash between commit and send neither loses nor duplicates it
 * from our side. `dedupeKey` makes each business event one message; `topic` names the channel.
 */
export const outbox = mysqlTable(
  'outbox',
  {
    id: id(),
    topic: varchar('topic', { length: 64 }).notNull(),
    dedupeKey: varchar('dedupe_key', { length: 128 }).notNull().unique('outbox_dedupe_key_uq'),
    payload: json('payload').notNull(),
    /** SENT and REFUSED (e.g. 43101, the user has not subscribed) are final and normal; FAILED is final. */
    status: mysqlEnum('status', ['PENDING', 'SENT', 'REFUSED', 'FAILED']).notNull(),
    attempts: int('attempts').notNull().default(0),
    /** When the sender may try next; also its claim while it sends. */
    nextAttemptAt: utc('next_attempt_at').notNull(),
    lastError: varchar('last_error', { length: 255 }),
    createdAt: utc('created_at').notNull(),
    sentAt: utc('sent_at'),
  },
  (t) => [index('outbox_status_next_idx').on(t.status, t.nextAttemptAt)],
)
