ALTER TABLE `merchants` ADD `sub_mchid` varchar(32);--> statement-breakpoint
ALTER TABLE `orders` ADD `sub_mchid` varchar(32);
