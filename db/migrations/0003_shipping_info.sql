ALTER TABLE `orders` ADD `shipping_status` enum('PENDING','UPLOADED','FAILED');--> statement-breakpoint
ALTER TABLE `orders` ADD `shipping_attempts` int DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `orders` ADD `shipping_next_at` datetime(3);--> statement-breakpoint
ALTER TABLE `orders` ADD `shipping_error` varchar(255);--> statement-breakpoint
CREATE INDEX `orders_shipping_idx` ON `orders` (`shipping_status`,`shipping_next_at`);
