/**
 * The points rule. Numbers are checked by the API, whose 400 names the field; its message is shown
 * next to that field. Redemption fields appear when the API's rule carries them (API.md §14).
 */
import { useEffect, useState } from 'preact/hooks'
import { api, describeError } from '../api.ts'
import type { Me } from '../types.ts'
import { Alert, Field, fieldError, formError, parseIntText, useAction } from '../ui.tsx'

type Rule = Record<string, number | null>

interface FieldDef {
  key: string
  label: string
  nullable?: boolean
  hint?: string
}

const FIELDS: FieldDef[] = [
  { key: 'earnPoints', label: '每档积分', hint: '每满一档消费奖励的积分' },
  { key: 'perFen', label: '每档消费（分）', hint: '100 分 = 1 元' },
  { key: 'minOrderFen', label: '最低订单金额（分）' },
  { key: 'maxPointsPerOrder', label: '单笔积分上限', nullable: true, hint: '留空为不限' },
  { key: 'dailyCapPerUser', label: '每人每日积分上限', nullable: true, hint: '留空为不限' },
]
const REDEEM_FIELDS: FieldDef[] = [
  { key: 'redeemFenPerPoint', label: '每积分抵扣（分）', nullable: true, hint: '留空为不可抵扣' },
  { key: 'redeemMaxPercent', label: '最高抵扣比例（%）', hint: '1 到 100' },
]

const toText = (v: number | null | undefined) => (v === null || v === undefined ? '' : String(v))

export function RulePage({ me }: { me: Me }) {
  const [fields, setFields] = useState<FieldDef[]>(FIELDS)
  const [values, setValues] = useState<Record<string, string> | null>(null)
  const [saved, setSaved] = useState(false)
  const [loadError, setLoadError] = useState<string>()
  const action = useAction()
  const isOwner = me.roles.includes('merchant_owner')

  const show = (rule: Rule) => {
    const all = 'redeemFenPerPoint' in rule ? [...FIELDS, ...REDEEM_FIELDS] : FIELDS
    setFields(all)
    setValues(Object.fromEntries(all.map((f) => [f.key, toText(rule[f.key])])))
  }
  useEffect(() => {
    api<{ rule: Rule }>('GET', '/api/merchant').then(
      (m) => show(m.rule),
      (err) => setLoadError(describeError(err)),
    )
  }, [])

  const submit = (e: Event) => {
    e.preventDefault()
    setSaved(false)
    const rule: Record<string, unknown> = {}
    for (const f of fields) {
      const text = values?.[f.key] ?? ''
      // Anything that is not an integer goes as typed, so the API's message says what is wrong.
      rule[f.key] = text.trim() === '' ? (f.nullable ? null : text) : (parseIntText(text) ?? text)
    }
    action.run(async () => {
      const m = await api<{ rule: Rule }>('PUT', '/api/merchant/rule', { body: rule })
      show(m.rule)
      setSaved(true)
    })
  }
  const keys = fields.map((f) => f.key)
  // The form appears once the rule is loaded, so nothing typed is overwritten by the loaded values.
  if (!values) return loadError ? <Alert message={loadError} /> : <p aria-live="polite">加载中…</p>
  return (
    <form onSubmit={submit} class="form">
      <p>奖励积分 = floor(订单金额 ÷ 每档消费) × 每档积分，低于最低订单金额不奖励。</p>
      {fields.map((f) => (
        <Field
          key={f.key}
          label={f.label}
          name={f.key}
          value={values[f.key] ?? ''}
          hint={f.hint}
          inputMode="numeric"
          onInput={(v) => setValues({ ...values, [f.key]: v })}
          error={fieldError(action.error, f.key)}
        />
      ))}
      <Alert message={formError(action.error, keys)} />
      {saved && <p role="status">已保存。</p>}
      {isOwner ? (
        <button type="submit" disabled={action.busy}>
          保存
        </button>
      ) : (
        <p>只有商户主可以修改规则。</p>
      )}
    </form>
  )
}
