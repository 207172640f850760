-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_users" table
CREATE TABLE `new_users` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `username` text NOT NULL, `email` text NOT NULL, `email_verified_at` datetime NULL, `password_hash` text NOT NULL, `display_name` text NOT NULL DEFAULT (''), `bio` text NOT NULL DEFAULT (''), `avatar_url` text NOT NULL DEFAULT (''), `avatar_image_id` integer NULL, `banned_at` datetime NULL, `role` text NOT NULL DEFAULT ('USER'), `message_policy` text NOT NULL DEFAULT ('EVERYONE'), `mail_new_follower` text NOT NULL DEFAULT ('DAILY'), `mail_new_comment` text NOT NULL DEFAULT ('INSTANT'), `mail_post_liked` text NOT NULL DEFAULT ('DAILY'), `mail_new_message` text NOT NULL DEFAULT ('INSTANT'), `digest_through` datetime NULL);
-- Set sequence for "new_users" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_users", 21474836480);
-- Copy rows from old table "users" to new temporary table "new_users"
INSERT INTO `new_users` (`id`, `created_at`, `updated_at`, `username`, `email`, `email_verified_at`, `password_hash`, `display_name`, `bio`, `avatar_url`, `avatar_image_id`, `banned_at`, `role`, `message_policy`) SELECT `id`, `created_at`, `updated_at`, `username`, `email`, `email_verified_at`, `password_hash`, `display_name`, `bio`, `avatar_url`, `avatar_image_id`, `banned_at`, `role`, `message_policy` FROM `users`;
-- Drop "users" table after copying rows
DROP TABLE `users`;
-- Rename temporary table "new_users" to "users"
ALTER TABLE `new_users` RENAME TO `users`;
-- Create index "users_username_key" to table: "users"
CREATE UNIQUE INDEX `users_username_key` ON `users` (`username`);
-- Create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX `users_email_key` ON `users` (`email`);
-- Create index "user_role" to table: "users"
CREATE INDEX `user_role` ON `users` (`role`);
-- Create index "user_list_display_name" to table: "users"
CREATE INDEX `user_list_display_name` ON `users` (`display_name`, `id`);
-- Create index "user_list_created_at" to table: "users"
CREATE INDEX `user_list_created_at` ON `users` (`created_at`, `id`);
-- Create index "user_list_updated_at" to table: "users"
CREATE INDEX `user_list_updated_at` ON `users` (`updated_at`, `id`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
