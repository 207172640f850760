-- Create index "user_banned" to table: "users"
CREATE INDEX `user_banned` ON `users` (`id`) WHERE banned_at IS NOT NULL;
