/**
 * The HS256 verification key, imported once per secret. hono/jwt re-imports a string secret on
 * every verify, which was a sixth of an authenticated read's CPU; a CryptoKey is used as it is.
 */
const keys = new Map<string, Promise<CryptoKey>>()

export function hs256VerifyKey(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret)
  if (!key) {
    key = crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['verify'],
    )
    keys.set(secret, key)
  }
  return key
}
