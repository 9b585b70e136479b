/** How a group gift (红包) is cut into shares at creation (API.md §14). */
import { randomInt } from 'node:crypto'
import type { GIFT_SPLITS } from '../../shared/schemas.ts'

export type GiftSplit = (typeof GIFT_SPLITS)[number]

/**
 * `count` shares of at least 1 point summing to `points` (1 ≤ count ≤ points), in claim order.
 * even: floor(points/count) each, the remainder one point each to the first claims. random: the
 * cuts are `count − 1` distinct points of 1..points−1 drawn with crypto randomness, so every way
 * of cutting is equally likely and no claimer can predict or influence their share.
 */
export function splitPoints(points: number, count: number, split: GiftSplit): number[] {
  if (!Number.isSafeInteger(points) || !Number.isSafeInteger(count) || count < 1 || count > points) {
    throw new Error(`cannot split ${points} points into ${count} shares`)
  }
  if (split === 'even') {
    const base = Math.floor(points / count)
    const extra = points % count
    return Array.from({ length: count }, (_, i) => base + (i < extra ? 1 : 0))
  }
  const cuts = new Set<number>()
  while (cuts.size < count - 1) cuts.add(randomInt(1, points))
  const edges = [0, ...[...cuts].sort((a, b) => a - b), points]
  return edges.slice(1).map((edge, i) => edge - edges[i]!)
}
