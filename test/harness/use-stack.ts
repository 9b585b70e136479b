/**
 * The usual life of a test file's stack, registered once: started before the file, closed after
 * it, and (when asked) the ledger invariants checked after every test and the origin's output
 * checked for unhandled errors at the end.
 */
import { afterAll, afterEach, beforeAll, expect } from 'vitest'
import { type ApiClient, apiClient } from './client.ts'
import { adminToken } from './fixtures.ts'
import { HOLDS, invariants, type Stack, startStack } from './stack.ts'

export interface FileStack {
  readonly stack: Stack
  readonly api: ApiClient
  /** An admin's token, logged in before the first test when `admin` was asked for. */
  readonly admin: string
}

export function useStack(opts: { invariantsAfterEach?: boolean; admin?: boolean } = {}): FileStack {
  const file = {} as { stack: Stack; api: ApiClient; admin: string }
  beforeAll(async () => {
    file.stack = await startStack()
    file.api = apiClient(file.stack.origin.url)
    if (opts.admin) file.admin = await adminToken(file.api)
  })
  if (opts.invariantsAfterEach) {
    afterEach(async () => {
      expect(await invariants(file.stack)).toEqual(HOLDS)
    })
  }
  afterAll(async () => {
    if (!file.stack) return
    expect(file.stack.origin.output()).not.toContain('unhandled error')
    await file.stack.close()
  })
  return file
}
