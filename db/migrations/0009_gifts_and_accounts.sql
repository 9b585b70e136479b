ALTER TABLE `users` ADD `frozen_at` datetime(3);--> statement-breakpoint
ALTER TABLE `users` ADD `deleted_at` datetime(3);--> statement-breakpoint
ALTER TABLE `gifts` ADD `share_count` int NOT NULL DEFAULT 1;--> statement-breakpoint
ALTER TABLE `gifts` ADD `split` enum('even','random') NOT NULL DEFAULT 'even';--> statement-breakpoint
ALTER TABLE `gifts` ADD `claimed_count` int NOT NULL DEFAULT 0;--> statement-breakpoint
ALTER TABLE `gifts` ADD `remaining_points` bigint NOT NULL DEFAULT 0;--> statement-breakpoint
UPDATE `gifts` SET `remaining_points` = `points` WHERE `status` = 'PENDING';--> statement-breakpoint
UPDATE `gifts` SET `claimed_count` = 1 WHERE `status` = 'CLAIMED';--> statement-breakpoint
CREATE TABLE `gift_shares` (
	`gift_id` bigint unsigned NOT NULL,
	`share_index` int NOT NULL,
	`points` bigint NOT NULL,
	`claimed_by_user_id` bigint unsigned,
	`claimed_at` datetime(3),
	CONSTRAINT `gift_shares_gift_id_share_index_pk` PRIMARY KEY(`gift_id`,`share_index`),
	CONSTRAINT `gift_shares_gift_claimer_uq` UNIQUE(`gift_id`,`claimed_by_user_id`)
);
--> statement-breakpoint
INSERT INTO `gift_shares` (`gift_id`, `share_index`, `points`, `claimed_by_user_id`, `claimed_at`)
SELECT `id`, 0, `points`, `claimed_by_user_id`, CASE WHEN `status` = 'CLAIMED' THEN `updated_at` END FROM `gifts`;--> statement-breakpoint
CREATE TABLE `gift_daily_sends` (
	`user_id` bigint unsigned NOT NULL,
	`day` date NOT NULL,
	`points` bigint NOT NULL,
	CONSTRAINT `gift_daily_sends_user_id_day_pk` PRIMARY KEY(`user_id`,`day`)
);
--> statement-breakpoint
ALTER TABLE `gift_shares` ADD CONSTRAINT `gift_shares_gift_id_gifts_id_fk` FOREIGN KEY (`gift_id`) REFERENCES `gifts`(`id`) ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `gift_shares` ADD CONSTRAINT `gift_shares_claimed_by_user_id_users_id_fk` FOREIGN KEY (`claimed_by_user_id`) REFERENCES `users`(`id`) ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE `gift_daily_sends` ADD CONSTRAINT `gift_daily_sends_user_id_users_id_fk` FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON DELETE no action ON UPDATE no action;
