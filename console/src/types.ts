/** Shapes of API answers that more than one page reads (API.md §2–§3). */

export interface Me {
  id: string
  nickname: string
  roles: string[]
  merchantId: string | null
}

export interface MerchantOrder {
  id: string
  outTradeNo: string
  userId: string
  amountFen: number
  status: string
  pointsAwarded: number
  pointsClawedBack: number
  refundedFen: number
  paidAt: string | null
  createdAt: string
}
