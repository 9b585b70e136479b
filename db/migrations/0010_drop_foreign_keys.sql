ALTER TABLE `audit_log` DROP FOREIGN KEY `audit_log_actor_user_id_users_id_fk`;
--> statement-breakpoint
ALTER TABLE `daily_awards` DROP FOREIGN KEY `daily_awards_user_id_users_id_fk`;
--> statement-breakpoint
ALTER TABLE `daily_awards` DROP FOREIGN KEY `daily_awards_merchant_id_merchants_id_fk`;
--> statement-breakpoint
ALTER TABLE `gift_daily_sends` DROP FOREIGN KEY `gift_daily_sends_user_id_users_id_fk`;
--> statement-breakpoint
ALTER TABLE `gift_shares` DROP FOREIGN KEY `gift_shares_gift_id_gifts_id_fk`;
--> statement-breakpoint
ALTER TABLE `gift_shares` DROP FOREIGN KEY `gift_shares_claimed_by_user_id_users_id_fk`;
--> statement-breakpoint
ALTER TABLE `gifts` DROP FOREIGN KEY `gifts_sender_user_id_users_id_fk`;
--> statement-breakpoint
ALTER TABLE `gifts` DROP FOREIGN KEY `gifts_claimed_by_user_id_users_id_fk`;
--> statement-breakpoint
ALTER TABLE `idempotency_keys` DROP FOREIGN KEY `idempotency_keys_user_id_users_id_fk`;
--> statement-breakpoint
ALTER TABLE `ledger_entries` DROP FOREIGN KEY `ledger_entries_merchant_id_merchants_id_fk`;
--> statement-breakpoint
ALTER TABLE `merchant_daily_grants` DROP FOREIGN KEY `merchant_daily_grants_merchant_id_merchants_id_fk`;
--> statement-breakpoint
ALTER TABLE `merchant_staff` DROP FOREIGN KEY `merchant_staff_user_id_users_id_fk`;
--> statement-breakpoint
ALTER TABLE `merchant_staff` DROP FOREIGN KEY `merchant_staff_merchant_id_merchants_id_fk`;
--> statement-breakpoint
ALTER TABLE `merchants` DROP FOREIGN KEY `merchants_owner_user_id_users_id_fk`;
--> statement-breakpoint
ALTER TABLE `orders` DROP FOREIGN KEY `orders_user_id_users_id_fk`;
--> statement-breakpoint
ALTER TABLE `orders` DROP FOREIGN KEY `orders_merchant_id_merchants_id_fk`;
--> statement-breakpoint
ALTER TABLE `point_lots` DROP FOREIGN KEY `point_lots_account_id_accounts_id_fk`;
--> statement-breakpoint
ALTER TABLE `point_lots` DROP FOREIGN KEY `point_lots_source_transfer_id_transfers_id_fk`;
--> statement-breakpoint
ALTER TABLE `refunds` DROP FOREIGN KEY `refunds_order_id_orders_id_fk`;
--> statement-breakpoint
ALTER TABLE `refunds` DROP FOREIGN KEY `refunds_merchant_id_merchants_id_fk`;
--> statement-breakpoint
ALTER TABLE `staff_invitations` DROP FOREIGN KEY `staff_invitations_merchant_id_merchants_id_fk`;
--> statement-breakpoint
ALTER TABLE `staff_invitations` DROP FOREIGN KEY `staff_invitations_user_id_users_id_fk`;
--> statement-breakpoint
ALTER TABLE `staff_invitations` DROP FOREIGN KEY `staff_invitations_invited_by_user_id_users_id_fk`;
--> statement-breakpoint
ALTER TABLE `transfer_lots` DROP FOREIGN KEY `transfer_lots_transfer_id_transfers_id_fk`;
--> statement-breakpoint
ALTER TABLE `transfer_lots` DROP FOREIGN KEY `transfer_lots_lot_id_point_lots_id_fk`;
--> statement-breakpoint
ALTER TABLE `transfers` DROP FOREIGN KEY `transfers_merchant_id_merchants_id_fk`;
--> statement-breakpoint
-- MySQL and MariaDB keep the index they made for a foreign key when the key is dropped.
-- The merchant's refund stats still need refunds' one, now named in db/schema.ts (a rename is
-- instant, no rebuild); nothing looks up by the others, which only cost writes.
ALTER TABLE `refunds` RENAME INDEX `refunds_merchant_id_merchants_id_fk` TO `refunds_merchant_idx`;
--> statement-breakpoint
ALTER TABLE `audit_log` DROP INDEX `audit_log_actor_user_id_users_id_fk`;
--> statement-breakpoint
ALTER TABLE `daily_awards` DROP INDEX `daily_awards_merchant_id_merchants_id_fk`;
--> statement-breakpoint
ALTER TABLE `gift_shares` DROP INDEX `gift_shares_claimed_by_user_id_users_id_fk`;
--> statement-breakpoint
ALTER TABLE `gifts` DROP INDEX `gifts_claimed_by_user_id_users_id_fk`;
--> statement-breakpoint
ALTER TABLE `ledger_entries` DROP INDEX `ledger_entries_merchant_id_merchants_id_fk`;
--> statement-breakpoint
ALTER TABLE `point_lots` DROP INDEX `point_lots_source_transfer_id_transfers_id_fk`;
--> statement-breakpoint
ALTER TABLE `staff_invitations` DROP INDEX `staff_invitations_invited_by_user_id_users_id_fk`;
--> statement-breakpoint
ALTER TABLE `transfer_lots` DROP INDEX `transfer_lots_lot_id_point_lots_id_fk`;