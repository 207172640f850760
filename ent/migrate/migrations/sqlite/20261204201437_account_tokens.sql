-- Add column "email_verified_at" to table: "users"
ALTER TABLE `users` ADD COLUMN `email_verified_at` datetime NULL;
-- Create "account_tokens" table
CREATE TABLE `account_tokens` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `purpose` text NOT NULL, `hash` text NOT NULL, `email` text NOT NULL, `created_at` datetime NOT NULL, `expires_at` datetime NOT NULL, `user_id` integer NOT NULL, CONSTRAINT `account_tokens_users_account_tokens` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Set sequence for "account_tokens" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("account_tokens", 68719476736);
-- Create index "account_tokens_hash_key" to table: "account_tokens"
CREATE UNIQUE INDEX `account_tokens_hash_key` ON `account_tokens` (`hash`);
-- Create index "accounttoken_user_id_purpose" to table: "account_tokens"
CREATE INDEX `accounttoken_user_id_purpose` ON `account_tokens` (`user_id`, `purpose`);
-- Create index "accounttoken_expires_at" to table: "account_tokens"
CREATE INDEX `accounttoken_expires_at` ON `account_tokens` (`expires_at`);
