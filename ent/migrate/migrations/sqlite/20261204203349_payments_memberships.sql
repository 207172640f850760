-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Add column "visibility" to table: "posts" (in place: the full-text triggers stay)
ALTER TABLE `posts` ADD COLUMN `visibility` text NOT NULL DEFAULT ('PUBLIC');
-- Add column "stripe_customer_id" to table: "users"
ALTER TABLE `users` ADD COLUMN `stripe_customer_id` text NULL;
-- Create "memberships" table
CREATE TABLE `memberships` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `status` text NOT NULL DEFAULT ('INCOMPLETE'), `current_period_end` datetime NULL, `cancel_at_period_end` bool NOT NULL DEFAULT (false), `stripe_subscription_id` text NOT NULL, `stripe_updated_at` datetime NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `member_id` integer NOT NULL, `author_id` integer NOT NULL, CONSTRAINT `memberships_users_memberships` FOREIGN KEY (`member_id`) REFERENCES `users` (`id`) ON DELETE CASCADE, CONSTRAINT `memberships_users_members` FOREIGN KEY (`author_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Set sequence for "memberships" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("memberships", 90194313216);
-- Create index "memberships_stripe_subscription_id_key" to table: "memberships"
CREATE UNIQUE INDEX `memberships_stripe_subscription_id_key` ON `memberships` (`stripe_subscription_id`);
-- Create index "membership_member_id_author_id" to table: "memberships"
CREATE UNIQUE INDEX `membership_member_id_author_id` ON `memberships` (`member_id`, `author_id`);
-- Create index "membership_author_id_status" to table: "memberships"
CREATE INDEX `membership_author_id_status` ON `memberships` (`author_id`, `status`);
-- Create "membership_plans" table
CREATE TABLE `membership_plans` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `monthly_price` integer NOT NULL, `currency` text NOT NULL, `description` text NOT NULL DEFAULT (''), `active` bool NOT NULL DEFAULT (true), `stripe_product_id` text NOT NULL, `stripe_price_id` text NOT NULL, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `author_id` integer NOT NULL, CONSTRAINT `membership_plans_users_membership_plan` FOREIGN KEY (`author_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Set sequence for "membership_plans" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("membership_plans", 85899345920);
-- Create index "membership_plans_author_id_key" to table: "membership_plans"
CREATE UNIQUE INDEX `membership_plans_author_id_key` ON `membership_plans` (`author_id`);
-- Create "stripe_events" table
CREATE TABLE `stripe_events` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `event_id` text NOT NULL, `type` text NOT NULL, `payload` blob NOT NULL, `received_at` datetime NOT NULL, `processed_at` datetime NULL);
-- Set sequence for "stripe_events" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("stripe_events", 94489280512);
-- Create index "stripe_events_event_id_key" to table: "stripe_events"
CREATE UNIQUE INDEX `stripe_events_event_id_key` ON `stripe_events` (`event_id`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
