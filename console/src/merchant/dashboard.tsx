/** Today's figures and the last 14 Asia/Shanghai days as a chart (uPlot, canvas) and a table. */
import { useEffect, useRef, useState } from 'preact/hooks'
import uPlot from 'uplot'
import { api, describeError } from '../api.ts'
import { Alert, dayStartIso, shanghaiDay, yuan } from '../ui.tsx'

interface Stats {
  orders: number
  paidFen: number
  refundedFen: number
  pointsIssued: number
  pointsClawedBack: number
  customers: number
  pointsRedeemed?: number
}
interface Day {
  date: string
  orders: number
  paidFen: number
  refundedFen: number
  pointsIssued: number
  pointsClawedBack: number
}

const DAYS = 14

export function DashboardPage() {
  const [today, setToday] = useState<Stats | null>(null)
  const [days, setDays] = useState<Day[] | null>(null)
  const [error, setError] = useState<string>()
  useEffect(() => {
    const day = shanghaiDay()
    Promise.all([
      api<Stats>('GET', `/api/merchant/stats?from=${encodeURIComponent(dayStartIso(day))}`),
      api<{ items: Day[] }>('GET', `/api/merchant/stats/daily?from=${shanghaiDay(DAYS - 1)}&to=${day}`),
    ]).then(
      ([t, d]) => {
        setToday(t)
        setDays(d.items)
      },
      (err) => setError(describeError(err)),
    )
  }, [])
  return (
    <>
      <Alert message={error} />
      {today && (
        <section aria-labelledby="today-title">
          <h2 id="today-title">今日</h2>
          <dl class="figures">
            <Figure label="订单数" value={String(today.orders)} />
            <Figure label="收款" value={yuan(today.paidFen)} />
            <Figure label="退款" value={yuan(today.refundedFen)} />
            <Figure label="发放积分" value={String(today.pointsIssued)} />
            <Figure label="扣回积分" value={String(today.pointsClawedBack)} />
            <Figure
              label="抵扣积分"
              value={today.pointsRedeemed === undefined ? '—' : String(today.pointsRedeemed)}
            />
          </dl>
        </section>
      )}
      {days && <DailyChart days={days} />}
    </>
  )
}

function Figure({ label, value }: { label: string; value: string }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  )
}

function DailyChart({ days }: { days: Day[] }) {
  const box = useRef<HTMLDivElement>(null)
  useEffect(() => {
    if (!box.current) return
    const xs = days.map((d) => Date.parse(`${d.date}T00:00:00+08:00`) / 1000)
    const plot = new uPlot(
      {
        width: Math.min(box.current.clientWidth || 720, 960),
        height: 280,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Asia/Shanghai'),
        series: [
          {},
          { label: '收款（元）', stroke: '#1677ff', width: 2, scale: 'yuan' },
          { label: '发放积分', stroke: '#52c41a', width: 2, scale: 'points' },
          { label: '扣回积分', stroke: '#fa541c', width: 2, scale: 'points' },
        ],
        axes: [{}, { scale: 'yuan' }, { scale: 'points', side: 1, grid: { show: false } }],
      },
      [
        xs,
        days.map((d) => d.paidFen / 100),
        days.map((d) => d.pointsIssued),
        days.map((d) => d.pointsClawedBack),
      ],
      box.current,
    )
    return () => plot.destroy()
  }, [days])
  return (
    <section aria-labelledby="chart-title">
      <h2 id="chart-title">近 {days.length} 天</h2>
      <div ref={box} class="chart" role="img" aria-label={`近 ${days.length} 天收款与积分走势图`} />
      <details>
        <summary>按天数据</summary>
        <table>
          <caption>近 {days.length} 天每日数据（Asia/Shanghai）</caption>
          <thead>
            <tr>
              <th scope="col">日期</th>
              <th scope="col">订单数</th>
              <th scope="col">收款</th>
              <th scope="col">退款</th>
              <th scope="col">发放积分</th>
              <th scope="col">扣回积分</th>
            </tr>
          </thead>
          <tbody>
            {days.map((d) => (
              <tr key={d.date}>
                <th scope="row">{d.date}</th>
                <td>{d.orders}</td>
                <td>{yuan(d.paidFen)}</td>
                <td>{yuan(d.refundedFen)}</td>
                <td>{d.pointsIssued}</td>
                <td>{d.pointsClawedBack}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </section>
  )
}
