/**
 * The access_tokens the sandbox has issued. Like stable_token in normal mode it hands out the same
 * token until 5 minutes before expiry, and the previous token keeps working until it expires.
 */
import { randomBytes } from 'node:crypto'

export const TOKEN_TTL_SECONDS = 7200
const ROTATE_BEFORE_EXPIRY_MS = 300_000

export class TokenRegistry {
  private readonly expiresAtMs = new Map<string, number>()
  private current: string | null = null

  issue(): { accessToken: string; expiresInSeconds: number } {
    const now = Date.now()
    const currentExpiry = this.current ? (this.expiresAtMs.get(this.current) ?? 0) : 0
    if (!this.current || currentExpiry - now <= ROTATE_BEFORE_EXPIRY_MS) {
      this.current = `sbx_${randomBytes(48).toString('base64url')}`
      this.expiresAtMs.set(this.current, now + TOKEN_TTL_SECONDS * 1000)
    }
    const expiresAt = this.expiresAtMs.get(this.current) ?? now
    return { accessToken: this.current, expiresInSeconds: Math.floor((expiresAt - now) / 1000) }
  }

  isValid(token: string): boolean {
    return (this.expiresAtMs.get(token) ?? 0) > Date.now()
  }

  /** Simulates a leaked-and-reset or expired token: every caller gets 40001 until it refetches. */
  revokeAll(): void {
    this.expiresAtMs.clear()
    this.current = null
  }
}
