import { describe, expect, it } from 'vitest'
import { withCooldown } from '../../cache/page-versions.ts'

describe('page-version reads after a failure', () => {
  it('stop asking Redis for the cooldown, log once, then try again', async () => {
    let clock = 1_000
    let calls = 0
    let failing = true
    const lines: string[] = []
    const read = withCooldown(
      async () => {
        calls++
        if (failing) throw new Error('redis down')
        return '7'
      },
      () => clock,
      (line) => lines.push(line),
      5_000,
    )
    await expect(read('m1')).rejects.toThrow('redis down')
    for (let i = 0; i < 10; i++) await expect(read('m1')).rejects.toThrow(/cooling down/)
    expect(calls).toBe(1)
    expect(lines).toHaveLength(1)
    failing = false
    clock += 5_001
    expect(await read('m1')).toBe('7')
    expect(calls).toBe(2)
  })
})
