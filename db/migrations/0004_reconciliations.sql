CREATE TABLE `reconciliations` (
	`bill_date` date NOT NULL,
	`status` enum('RUNNING','DONE','FAILED') NOT NULL,
	`report` json,
	`started_at` datetime(3) NOT NULL,
	`finished_at` datetime(3),
	CONSTRAINT `reconciliations_bill_date` PRIMARY KEY(`bill_date`)
);
