CREATE TABLE `point_lots` (
	`id` bigint unsigned AUTO_INCREMENT NOT NULL,
	`account_id` bigint unsigned NOT NULL,
	`source_transfer_id` bigint unsigned,
	`points` bigint NOT NULL,
	`remaining` bigint NOT NULL,
	`expires_at` datetime(3),
	`open_until` datetime(3),
	`expiry_noticed` boolean NOT NULL DEFAULT false,
	`created_at` datetime(3) NOT NULL,
	CONSTRAINT `point_lots_id` PRIMARY KEY(`id`)
);
--> statement-breakpoint
CREATE TABLE `transfer_lots` (
	`transfer_id` bigint unsigned NOT NULL,
	`lot_id` bigint unsigned NOT NULL,
	`points` bigint NOT NULL,
	`passed_on` bigint NOT NULL DEFAULT 0,
	CONSTRAINT `transfer_lots_transfer_id_lot_id_pk` PRIMARY KEY(`transfer_id`,`lot_id`)
);
--> statement-breakpoint
ALTER TABLE `point_lots` ADD CONSTRAINT `point_lots_account_id_accounts_id_fk` FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `point_lots` ADD CONSTRAINT `point_lots_source_transfer_id_transfers_id_fk` FOREIGN KEY (`source_transfer_id`) REFERENCES `transfers`(`id`) ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `transfer_lots` ADD CONSTRAINT `transfer_lots_transfer_id_transfers_id_fk` FOREIGN KEY (`transfer_id`) REFERENCES `transfers`(`id`) ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `transfer_lots` ADD CONSTRAINT `transfer_lots_lot_id_point_lots_id_fk` FOREIGN KEY (`lot_id`) REFERENCES `point_lots`(`id`) ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX `point_lots_account_open_idx` ON `point_lots` (`account_id`,`open_until`,`remaining`);--> statement-breakpoint
CREATE INDEX `point_lots_open_idx` ON `point_lots` (`open_until`);--> statement-breakpoint
CREATE INDEX `point_lots_notice_idx` ON `point_lots` (`expiry_noticed`,`open_until`);--> statement-breakpoint
INSERT INTO `point_lots` (`account_id`, `source_transfer_id`, `points`, `remaining`, `expires_at`, `open_until`, `expiry_noticed`, `created_at`)
SELECT `id`, NULL, `balance`, `balance`, UTC_TIMESTAMP(3) + INTERVAL 31536000 SECOND, UTC_TIMESTAMP(3) + INTERVAL 31536000 SECOND, false, UTC_TIMESTAMP(3)
FROM `accounts` WHERE `kind` = 'USER' AND `balance` > 0;
