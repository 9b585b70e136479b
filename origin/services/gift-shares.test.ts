/** How group gifts are cut into shares (API.md §14). */
import { describe, expect, it } from 'vitest'
import { splitPoints } from './gift-shares.ts'

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)

describe('splitPoints', () => {
  it('even: floor(points/count) each, the remainder one point each to the first claims', () => {
    expect(splitPoints(11, 3, 'even')).toEqual([4, 4, 3])
    expect(splitPoints(100, 4, 'even')).toEqual([25, 25, 25, 25])
    expect(splitPoints(7, 7, 'even')).toEqual(Array(7).fill(1))
    expect(splitPoints(5, 1, 'even')).toEqual([5])
    expect(splitPoints(1_000_000, 100, 'even')).toEqual(Array(100).fill(10_000))
  })

  it('random: every share at least 1, summing to the points, whatever the sizes', () => {
    for (const [points, count] of [
      [2, 2],
      [100, 100],
      [101, 100],
      [1_000_000, 100],
      [10, 3],
      [5, 1],
    ] as const) {
      for (let trial = 0; trial < 50; trial++) {
        const shares = splitPoints(points, count, 'random')
        expect(shares).toHaveLength(count)
        expect(sum(shares)).toBe(points)
        expect(shares.every((s) => Number.isSafeInteger(s) && s >= 1)).toBe(true)
      }
    }
  })

  it('random: shares differ from gift to gift', () => {
    const seen = new Set(Array.from({ length: 20 }, () => splitPoints(1000, 5, 'random').join(',')))
    expect(seen.size).toBeGreaterThan(1)
  })

  it('refuses more shares than points, and no shares', () => {
    expect(() => splitPoints(3, 4, 'even')).toThrow()
    expect(() => splitPoints(3, 0, 'random')).toThrow()
  })
})
