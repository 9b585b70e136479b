CREATE TABLE `accounts` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`kind` enum('USER','MERCHANT_ISSUANCE','GIFT_ESCROW','PLATFORM') NOT NULL,
	`owner_id` bigint unsigned NOT NULL,
	`balance` bigint NOT NULL DEFAULT 0,
	`last_seq` bigint unsigned NOT NULL DEFAULT 0,
	`total_earned` bigint NOT NULL DEFAULT 0,
	`created_at` datetime(3) NOT NULL,
	CONSTRAINT `accounts_id` PRIMARY KEY(`id`),
	CONSTRAINT `accounts_kind_owner_uq` UNIQUE(`kind`,`owner_id`)
);
--> statement-breakpoint
CREATE TABLE `audit_log` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`actor_user_id` bigint unsigned NOT NULL,
	`actor_role` varchar(32) NOT NULL,
	`action` varchar(64) NOT NULL,
	`target_type` varchar(32) NOT NULL,
	`target_id` varchar(64) NOT NULL,
	`details` json,
	`created_at` datetime(3) NOT NULL,
	CONSTRAINT `audit_log_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `daily_awards` (
	`user_id` bigint unsigned NOT NULL,
	`merchant_id` bigint unsigned NOT NULL,
	`day` date NOT NULL,
	`points` bigint NOT NULL,
	CONSTRAINT `daily_awards_user_id_merchant_id_day_pk` PRIMARY KEY(`user_id`,`merchant_id`,`day`)
);
--> statement-breakpoint
CREATE TABLE `gifts` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`code` varchar(32) NOT NULL,
	`sender_user_id` bigint unsigned NOT NULL,
	`points` bigint NOT NULL,
	`message` varchar(200) NOT NULL DEFAULT '',
	`status` enum('PENDING','CLAIMED','CANCELLED','EXPIRED') NOT NULL,
	`claimed_by_user_id` bigint unsigned,
	`expires_at` datetime(3) NOT NULL,
	`created_at` datetime(3) NOT NULL,
	`updated_at` datetime(3) NOT NULL,
	CONSTRAINT `gifts_id` PRIMARY KEY(`id`),
	CONSTRAINT `gifts_code_uq` UNIQUE(`code`)
);
--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`user_id` bigint unsigned NOT NULL,
	`idem_key` varchar(64) NOT NULL,
	`request_hash` varchar(64) NOT NULL,
	`response_status` int NOT NULL,
	`response_body` json NOT NULL,
	`created_at` datetime(3) NOT NULL,
	CONSTRAINT `idempotency_keys_user_id_idem_key_pk` PRIMARY KEY(`user_id`,`idem_key`)
);
--> statement-breakpoint
CREATE TABLE `ledger_entries` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`account_id` bigint unsigned NOT NULL,
	`transfer_id` bigint unsigned NOT NULL,
	`seq` bigint unsigned,
	`delta` bigint NOT NULL,
	`balance_after` bigint,
	`kind` enum('EARN','REFUND_CLAWBACK','GIFT_SEND','GIFT_RECEIVE','GIFT_RETURN','MERCHANT_GRANT','ADMIN_ADJUST') NOT NULL,
	`ref_id` varchar(64),
	`merchant_id` bigint unsigned,
	`created_at` datetime(3) NOT NULL,
	CONSTRAINT `ledger_entries_id` PRIMARY KEY(`id`),
	CONSTRAINT `ledger_entries_account_seq_uq` UNIQUE(`account_id`,`seq`)
);
--> statement-breakpoint
CREATE TABLE `merchant_staff` (
	`user_id` bigint unsigned NOT NULL,
	`merchant_id` bigint unsigned NOT NULL,
	`created_at` datetime(3) NOT NULL,
	CONSTRAINT `merchant_staff_user_id` PRIMARY KEY(`user_id`)
);
--> statement-breakpoint
CREATE TABLE `merchants` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`owner_user_id` bigint unsigned NOT NULL,
	`name` varchar(64) NOT NULL,
	`description` varchar(500) NOT NULL DEFAULT '',
	`logo_url` varchar(512) NOT NULL DEFAULT '',
	`contact_phone` varchar(255) NOT NULL,
	`status` enum('PENDING_REVIEW','ACTIVE','REJECTED','SUSPENDED') NOT NULL,
	`earn_points` int NOT NULL,
	`per_fen` int NOT NULL,
	`min_order_fen` bigint NOT NULL,
	`max_points_per_order` bigint,
	`daily_cap_per_user` bigint,
	`created_at` datetime(3) NOT NULL,
	`updated_at` datetime(3) NOT NULL,
	CONSTRAINT `merchants_id` PRIMARY KEY(`id`),
	CONSTRAINT `merchants_owner_uq` UNIQUE(`owner_user_id`)
);
--> statement-breakpoint
CREATE TABLE `orders` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`out_trade_no` varchar(32) NOT NULL,
	`user_id` bigint unsigned NOT NULL,
	`merchant_id` bigint unsigned NOT NULL,
	`amount_fen` bigint NOT NULL,
	`status` enum('PENDING','PAID','PARTIALLY_REFUNDED','REFUNDED','CLOSED') NOT NULL,
	`rule_earn_points` int NOT NULL,
	`rule_per_fen` int NOT NULL,
	`rule_min_order_fen` bigint NOT NULL,
	`rule_max_points_per_order` bigint,
	`rule_daily_cap_per_user` bigint,
	`points_awarded` bigint NOT NULL DEFAULT 0,
	`refunded_fen` bigint NOT NULL DEFAULT 0,
	`refunding_fen` bigint NOT NULL DEFAULT 0,
	`points_clawed_back` bigint NOT NULL DEFAULT 0,
	`prepay_id` varchar(64),
	`transaction_id` varchar(64),
	`paid_at` datetime(3),
	`expires_at` datetime(3) NOT NULL,
	`last_queried_at` datetime(3),
	`created_at` datetime(3) NOT NULL,
	`updated_at` datetime(3) NOT NULL,
	CONSTRAINT `orders_id` PRIMARY KEY(`id`),
	CONSTRAINT `orders_out_trade_no_uq` UNIQUE(`out_trade_no`)
);
--> statement-breakpoint
CREATE TABLE `refunds` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`out_refund_no` varchar(64) NOT NULL,
	`order_id` bigint unsigned NOT NULL,
	`merchant_id` bigint unsigned NOT NULL,
	`amount_fen` bigint NOT NULL,
	`reason` varchar(80) NOT NULL DEFAULT '',
	`status` enum('PROCESSING','SUCCESS','FAILED') NOT NULL,
	`points_clawed_back` bigint NOT NULL DEFAULT 0,
	`wechat_refund_id` varchar(64),
	`last_queried_at` datetime(3),
	`created_at` datetime(3) NOT NULL,
	`updated_at` datetime(3) NOT NULL,
	CONSTRAINT `refunds_id` PRIMARY KEY(`id`),
	CONSTRAINT `refunds_out_refund_no_uq` UNIQUE(`out_refund_no`)
);
--> statement-breakpoint
CREATE TABLE `transfers` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`business_key` varchar(96) NOT NULL,
	`kind` enum('EARN','REFUND_CLAWBACK','GIFT_SEND','GIFT_RECEIVE','GIFT_RETURN','MERCHANT_GRANT','ADMIN_ADJUST') NOT NULL,
	`debit_account_id` bigint unsigned NOT NULL,
	`credit_account_id` bigint unsigned NOT NULL,
	`points` bigint NOT NULL,
	`merchant_id` bigint unsigned,
	`ref_id` varchar(64),
	`created_at` datetime(3) NOT NULL,
	CONSTRAINT `transfers_id` PRIMARY KEY(`id`),
	CONSTRAINT `transfers_business_key_uq` UNIQUE(`business_key`)
);
--> statement-breakpoint
CREATE TABLE `users` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`openid` varchar(64) NOT NULL,
	`unionid` varchar(64),
	`nickname` varchar(64) NOT NULL DEFAULT '',
	`avatar_url` varchar(512) NOT NULL DEFAULT '',
	`created_at` datetime(3) NOT NULL,
	`updated_at` datetime(3) NOT NULL,
	CONSTRAINT `users_id` PRIMARY KEY(`id`),
	CONSTRAINT `users_openid_uq` UNIQUE(`openid`)
);
--> statement-breakpoint
CREATE INDEX `audit_log_created_idx` ON `audit_log` (`created_at`);--> statement-breakpoint
CREATE INDEX `gifts_sender_status_idx` ON `gifts` (`sender_user_id`,`status`);--> statement-breakpoint
CREATE INDEX `gifts_status_expires_idx` ON `gifts` (`status`,`expires_at`);--> statement-breakpoint
CREATE INDEX `idempotency_created_idx` ON `idempotency_keys` (`created_at`);--> statement-breakpoint
CREATE INDEX `ledger_entries_account_id_idx` ON `ledger_entries` (`account_id`,`id`);--> statement-breakpoint
CREATE INDEX `ledger_entries_transfer_idx` ON `ledger_entries` (`transfer_id`);--> statement-breakpoint
CREATE INDEX `merchant_staff_merchant_idx` ON `merchant_staff` (`merchant_id`);--> statement-breakpoint
CREATE INDEX `merchants_status_idx` ON `merchants` (`status`,`id`);--> statement-breakpoint
CREATE INDEX `orders_user_idx` ON `orders` (`user_id`,`id`);--> statement-breakpoint
CREATE INDEX `orders_merchant_idx` ON `orders` (`merchant_id`,`id`);--> statement-breakpoint
CREATE INDEX `orders_merchant_created_idx` ON `orders` (`merchant_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `orders_status_created_idx` ON `orders` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `refunds_order_idx` ON `refunds` (`order_id`);--> statement-breakpoint
CREATE INDEX `refunds_status_created_idx` ON `refunds` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `transfers_merchant_kind_idx` ON `transfers` (`merchant_id`,`kind`,`created_at`);