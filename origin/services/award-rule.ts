/** The points rule of API.md §3 as pure functions, so the model in tests and the service agree. */
import { MAX_GRANT_POINTS, type Rule } from '../../shared/schemas.ts'

/** The largest award one order can earn: the highest maxPointsPerOrder a rule may set. A rule
 * without a cap (say 1 000 000 points per fen) must still yield an award the ledger can move. */
export const MAX_POINTS_PER_ORDER = MAX_GRANT_POINTS * 100

/** Points for one order before the daily cap: floor(amount / perFen) × earnPoints, capped per order. */
export function pointsForOrder(
  rule: Pick<Rule, 'earnPoints' | 'perFen' | 'minOrderFen' | 'maxPointsPerOrder'>,
  amountFen: number,
): number {
  if (amountFen < rule.minOrderFen) return 0
  const points = Math.floor(amountFen / rule.perFen) * rule.earnPoints
  return Math.min(points, rule.maxPointsPerOrder ?? MAX_POINTS_PER_ORDER)
}

/** What the daily cap still allows today for this user at this merchant. */
export function capByDailyLimit(
  points: number,
  dailyCapPerUser: number | null,
  awardedTodayPoints: number,
): number {
  if (dailyCapPerUser === null) return points
  return Math.max(0, Math.min(points, dailyCapPerUser - awardedTodayPoints))
}

/** The cumulative claw-back after refunds: floor(pointsAwarded × refundedFen / amountFen). */
export function clawbackTotal(pointsAwarded: number, refundedFen: number, amountFen: number): number {
  // BigInt keeps the product exact: points (≤1e9) × fen (≤1e9) can pass 2^53.
  return Number((BigInt(pointsAwarded) * BigInt(refundedFen)) / BigInt(amountFen))
}

const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000

/** The calendar day in Asia/Shanghai (UTC+8 all year, no DST) as YYYY-MM-DD. */
export function shanghaiDay(at: Date): string {
  return new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10)
}
