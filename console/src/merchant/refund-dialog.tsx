/**
 * One refund per dialog: every attempt with the same amount and reason carries the same
 * Idempotency-Key, so a double click, a retry after a network loss or a second 确认 after an error
 * all refund at most once; the dialog closes after its refund is accepted.
 */
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import type { MerchantOrder } from '../types.ts'
import {
  Alert,
  Dialog,
  Field,
  fieldError,
  formError,
  parseYuan,
  useAction,
  useIdempotencyKey,
  yuan,
} from '../ui.tsx'

interface RefundView {
  id: string
  status: 'PROCESSING' | 'SUCCESS' | 'FAILED'
  amountFen: number
  pointsClawedBack?: number
}

const AMOUNT_CODES = ['REFUND_EXCEEDS_PAID']
const STATUS_TEXT = { PROCESSING: '处理中', SUCCESS: '退款成功', FAILED: '退款失败' }

export function RefundDialog(p: { order: MerchantOrder; onClose: () => void; onDone: () => void }) {
  const left = p.order.amountFen - p.order.refundedFen
  const [amount, setAmount] = useState((left / 100).toFixed(2))
  const [reason, setReason] = useState('')
  const [localError, setLocalError] = useState<string>()
  const [refund, setRefund] = useState<RefundView | null>(null)
  const idem = useIdempotencyKey()
  const action = useAction()

  const submit = (e: Event) => {
    e.preventDefault()
    const amountFen = parseYuan(amount)
    if (amountFen === undefined || amountFen < 1) {
      setLocalError('请输入金额，单位元，最多两位小数')
      return
    }
    setLocalError(undefined)
    action.run(async () => {
      const body = { amountFen, reason }
      let view = await api<RefundView>('POST', `/api/merchant/orders/${p.order.id}/refunds`, {
        body,
        idempotencyKey: idem.keyFor(body),
      })
      setRefund(view)
      for (let i = 0; i < 20 && view.status === 'PROCESSING'; i++) {
        await new Promise((r) => setTimeout(r, 500))
        view = await api<RefundView>('GET', `/api/merchant/refunds/${view.id}`)
        setRefund(view)
      }
    })
  }

  return (
    <Dialog title={`退款：订单 ${p.order.outTradeNo}`} onClose={refund ? p.onDone : p.onClose}>
      <p>
        订单金额 {yuan(p.order.amountFen)}，已退 {yuan(p.order.refundedFen)}，最多可退 {yuan(left)}。
      </p>
      {refund ? (
        <>
          <p role="status">
            {STATUS_TEXT[refund.status]}：{yuan(refund.amountFen)}
            {refund.pointsClawedBack ? `，扣回积分 ${refund.pointsClawedBack}` : ''}
          </p>
          <button type="button" onClick={p.onDone}>
            关闭
          </button>
        </>
      ) : (
        <form onSubmit={submit}>
          <Field
            label="金额（元）"
            name="amount"
            value={amount}
            onInput={setAmount}
            inputMode="decimal"
            required
            error={localError ?? fieldError(action.error, 'amountFen', AMOUNT_CODES)}
          />
          <Field
            label="原因"
            name="reason"
            value={reason}
            onInput={setReason}
            error={fieldError(action.error, 'reason')}
          />
          <Alert message={formError(action.error, ['amountFen', 'reason'], AMOUNT_CODES)} />
          <div class="actions">
            <button type="submit" disabled={action.busy}>
              {action.busy ? '提交中…' : '确认'}
            </button>
            <button type="button" onClick={p.onClose} disabled={action.busy}>
              取消
            </button>
          </div>
        </form>
      )}
    </Dialog>
  )
}
