ALTER TABLE `merchants` ADD `redeem_fen_per_point` bigint;--> statement-breakpoint
ALTER TABLE `merchants` ADD `redeem_max_percent` int DEFAULT 100 NOT NULL;--> statement-breakpoint
ALTER TABLE `orders` ADD `redeem_points` bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `orders` ADD `discount_fen` bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `orders` ADD `payable_fen` bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `orders` ADD `redeem_returned` bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
UPDATE `orders` SET `payable_fen` = `amount_fen`;--> statement-breakpoint
ALTER TABLE `orders` ALTER COLUMN `payable_fen` DROP DEFAULT;
