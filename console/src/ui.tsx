/** Shared pieces: labelled fields with their API error, dialogs, the one-submit guard, formats. */
import type { ComponentChildren } from 'preact'
import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, describeError, network, newIdempotencyKey } from './api.ts'

/**
 * Runs one submission at a time: a second click while the first is in flight does nothing (the ref
 * answers before the disabled button re-renders).
 */
export function useAction() {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<unknown>(null)
  const running = useRef(false)
  const run = async (fn: () => Promise<void>) => {
    if (running.current) return
    running.current = true
    setBusy(true)
    setError(null)
    try {
      await fn()
    } catch (err) {
      setError(err)
    } finally {
      running.current = false
      setBusy(false)
    }
  }
  return { busy, error, run, setError }
}

/**
 * The Idempotency-Key for a body: the same body (a double click, a retry, 确认 again after an error)
 * gets the same key, so it is done once; a changed body is a new request with a new key. `done()`
 * after a success lets the next identical submission count as a new one.
 */
export function useIdempotencyKey() {
  const last = useRef<{ body: string; key: string } | null>(null)
  const keyFor = (body: unknown) => {
    const text = JSON.stringify(body)
    if (last.current?.body !== text) last.current = { body: text, key: newIdempotencyKey() }
    return last.current.key
  }
  return { keyFor, done: () => (last.current = null) }
}

/** The error's message when it concerns `field` (details.field of a 400, or a code about it). */
export function fieldError(error: unknown, field: string, codes: readonly string[] = []): string | undefined {
  if (!(error instanceof ApiError)) return undefined
  if (error.field === field || codes.includes(error.code)) return describeError(error)
  return undefined
}

/** An error not shown next to any of `fields`. */
export function formError(error: unknown, fields: readonly string[], codes: readonly string[] = []) {
  if (!error) return undefined
  if (error instanceof ApiError && (fields.includes(error.field ?? '') || codes.includes(error.code)))
    return undefined
  return describeError(error)
}

let nextId = 0
const useId = (prefix: string) => useRef(`${prefix}-${++nextId}`).current

interface FieldProps {
  label: string
  name: string
  value: string
  onInput: (value: string) => void
  error?: string | undefined
  type?: 'text' | 'date'
  required?: boolean
  hint?: string
  inputMode?: 'numeric' | 'decimal' | 'text'
}

export function Field(p: FieldProps) {
  const id = useId(`f-${p.name}`)
  const describedBy = [p.hint && `${id}-hint`, p.error && `${id}-err`].filter(Boolean).join(' ')
  return (
    <div class="field">
      <label for={id}>{p.label}</label>
      <input
        id={id}
        name={p.name}
        // Preact's types tie some attributes to one input type; these fields use none of them.
        type={(p.type ?? 'text') as 'text'}
        value={p.value}
        required={p.required}
        inputMode={p.inputMode}
        aria-invalid={p.error ? 'true' : undefined}
        aria-describedby={describedBy || undefined}
        onInput={(e) => p.onInput((e.currentTarget as HTMLInputElement).value)}
      />
      {p.hint && (
        <small id={`${id}-hint`} class="hint">
          {p.hint}
        </small>
      )}
      {p.error && (
        <p id={`${id}-err`} class="field-error" role="alert">
          {p.error}
        </p>
      )}
    </div>
  )
}

export function Alert({ message }: { message: string | undefined }) {
  return message ? (
    <p class="alert" role="alert">
      {message}
    </p>
  ) : null
}

/** A modal <dialog>: focus stays inside, Esc closes, its title is its accessible name. */
export function Dialog(p: { title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null)
  const titleId = useId('dlg')
  useEffect(() => {
    const dialog = ref.current
    if (dialog && !dialog.open) dialog.showModal()
    return () => dialog?.close()
  }, [])
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault()
        p.onClose()
      }}
    >
      <h2 id={titleId}>{p.title}</h2>
      {p.children}
    </dialog>
  )
}

export function NetworkBanner() {
  const [offline, setOffline] = useState(network.offline)
  useEffect(() => {
    const off = network.subscribe(() => setOffline(network.offline))
    return () => {
      off()
    }
  }, [])
  if (!offline) return null
  return (
    <div class="banner" role="alert">
      网络连接中断，请求未完成。
      <button type="button" onClick={() => network.retry()}>
        重试
      </button>
    </div>
  )
}

export const yuan = (fen: number) => `¥${(fen / 100).toFixed(2)}`

/** "12.3" → 1230 fen, exactly (no floating point); undefined when it is not an amount. */
export function parseYuan(text: string): number | undefined {
  const m = /^\s*(\d{1,8})(?:\.(\d{1,2}))?\s*$/.exec(text)
  if (!m) return undefined
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'))
}

/** An integer, or undefined; the API names what is out of range. */
export function parseIntText(text: string): number | undefined {
  return /^\s*-?\d{1,12}\s*$/.test(text) ? Number(text) : undefined
}

const SHANGHAI_MS = 8 * 3600_000
/** Asia/Shanghai's calendar day `daysAgo` days before today, as YYYY-MM-DD. */
export const shanghaiDay = (daysAgo = 0) =>
  new Date(Date.now() + SHANGHAI_MS - daysAgo * 86_400_000).toISOString().slice(0, 10)
export const dayStartIso = (day: string) => `${day}T00:00:00+08:00`
export const nextDayStartIso = (day: string) =>
  `${new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10)}T00:00:00+08:00`
export const shanghaiTime = (iso: string | null) =>
  iso ? new Date(Date.parse(iso) + SHANGHAI_MS).toISOString().slice(0, 19).replace('T', ' ') : '—'
