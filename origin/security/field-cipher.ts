/**
 * Encryption at rest for sensitive fields (phone numbers): AES-256-GCM with a key id in every
 * stored value, so keys rotate by adding a new first key and keeping the old ones for reading.
 * Stored form: `enc1:<kid>:<iv>:<ciphertext>:<tag>` (base64url parts).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

const PREFIX = 'enc1'

export interface FieldCipher {
  encrypt(plaintext: string): string
  decrypt(stored: string): string
}

/** `keys` in order of preference: the first encrypts, all decrypt. */
export function createFieldCipher(keys: ReadonlyMap<string, Buffer>): FieldCipher {
  const [current] = keys.entries()
  if (!current) throw new Error('at least one field encryption key is required')
  const [currentKid, currentKey] = current
  return {
    encrypt(plaintext) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv)
      cipher.setAAD(Buffer.from(currentKid))
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
      return [PREFIX, currentKid, iv, ciphertext, cipher.getAuthTag()]
        .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
        .join(':')
    },
    decrypt(stored) {
      const [prefix, kid, iv, ciphertext, tag] = stored.split(':')
      const key = kid === undefined ? undefined : keys.get(kid)
      if (prefix !== PREFIX || !key || !iv || ciphertext === undefined || !tag) {
        throw new Error(`field cannot be decrypted (key id ${kid ?? '?'} unknown or value malformed)`)
      }
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
      decipher.setAAD(Buffer.from(kid!))
      decipher.setAuthTag(Buffer.from(tag, 'base64url'))
      return Buffer.concat([
        decipher.update(Buffer.from(ciphertext, 'base64url')),
        decipher.final(),
      ]).toString('utf8')
    },
  }
}

/** Keeps the first 3 and last 4 characters: 13800138000 → 138****8000. */
export function maskPhone(phone: string): string {
  if (phone.length <= 7) return '*'.repeat(phone.length)
  return `${phone.slice(0, 3)}${'*'.repeat(phone.length - 7)}${phone.slice(-4)}`
}
