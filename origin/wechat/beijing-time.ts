/** WeChat Pay wants RFC 3339 times in +08:00 without milliseconds (WECHAT.md §2.2), not toISOString(). */
const BEIJING_OFFSET_MS = 8 * 3600 * 1000

export function toBeijingRfc3339(date: Date): string {
  return `${new Date(date.getTime() + BEIJING_OFFSET_MS).toISOString().slice(0, 19)}+08:00`
}
