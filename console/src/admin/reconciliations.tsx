/** Reconciliation against WeChat's trade bill (API.md §13): run a day, read its report. */
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import { Alert, Field, fieldError, formError, shanghaiDay, useAction, yuan } from '../ui.tsx'

interface Totals {
  payments: number
  paidFen: number
  refunds: number
  refundedFen: number
}
interface Report {
  date: string
  status: 'DONE' | 'FAILED'
  wechat: Totals
  local: Totals
  matched: number
  fixed: Array<{ outTradeNo: string; action: string }>
  mismatches: Array<{ kind: string; outTradeNo: string; outRefundNo?: string; detail: string }>
}

const KIND_TEXT: Record<string, string> = {
  MISSING_LOCAL: '本地缺单',
  MISSING_REMOTE: '微信缺单',
  AMOUNT: '金额不符',
  STATE: '状态不符',
}

export function ReconciliationsPage() {
  const [date, setDate] = useState(shanghaiDay(1))
  const [report, setReport] = useState<Report | null>(null)
  const action = useAction()
  const go = (method: 'POST' | 'GET') =>
    action.run(async () => {
      setReport(null)
      setReport(
        method === 'POST'
          ? await api<Report>('POST', '/api/admin/reconciliations', { body: { date } })
          : await api<Report>('GET', `/api/admin/reconciliations/${encodeURIComponent(date)}`),
      )
    })
  return (
    <>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault()
          go('POST')
        }}
      >
        <Field
          label="日期"
          name="date"
          type="date"
          value={date}
          onInput={setDate}
          error={fieldError(action.error, 'date')}
        />
        <div class="actions">
          <button type="submit" disabled={action.busy}>
            {action.busy ? '对账中…' : '运行对账'}
          </button>
          <button type="button" disabled={action.busy} onClick={() => go('GET')}>
            查看报告
          </button>
        </div>
        <Alert message={formError(action.error, ['date'])} />
      </form>
      {report && <ReportView report={report} />}
    </>
  )
}

function ReportView({ report }: { report: Report }) {
  const totals = (name: string, t: Totals) => (
    <tr>
      <th scope="row">{name}</th>
      <td>{t.payments}</td>
      <td>{yuan(t.paidFen)}</td>
      <td>{t.refunds}</td>
      <td>{yuan(t.refundedFen)}</td>
    </tr>
  )
  return (
    <section aria-labelledby="report-title">
      <h2 id="report-title">
        {report.date} 对账报告：{report.status === 'DONE' ? '完成' : '失败'}
      </h2>
      <table>
        <caption>汇总（已匹配 {report.matched} 笔）</caption>
        <thead>
          <tr>
            <th scope="col">来源</th>
            <th scope="col">支付笔数</th>
            <th scope="col">支付金额</th>
            <th scope="col">退款笔数</th>
            <th scope="col">退款金额</th>
          </tr>
        </thead>
        <tbody>
          {totals('微信账单', report.wechat)}
          {totals('本地', report.local)}
        </tbody>
      </table>
      {report.fixed.length > 0 && (
        <>
          <h3>已自动补单（{report.fixed.length}）</h3>
          <ul>
            {report.fixed.map((f) => (
              <li key={f.outTradeNo}>
                <code>{f.outTradeNo}</code> {f.action}
              </li>
            ))}
          </ul>
        </>
      )}
      <table>
        <caption>差异（{report.mismatches.length}）</caption>
        <thead>
          <tr>
            <th scope="col">类型</th>
            <th scope="col">商户订单号</th>
            <th scope="col">商户退款单号</th>
            <th scope="col">说明</th>
          </tr>
        </thead>
        <tbody>
          {report.mismatches.map((m) => (
            <tr key={`${m.kind}-${m.outTradeNo}-${m.outRefundNo ?? ''}`}>
              <td>{KIND_TEXT[m.kind] ?? m.kind}</td>
              <td>
                <code>{m.outTradeNo}</code>
              </td>
              <td>{m.outRefundNo ?? '—'}</td>
              <td>{m.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {report.mismatches.length === 0 && <p>没有差异。</p>}
    </section>
  )
}
