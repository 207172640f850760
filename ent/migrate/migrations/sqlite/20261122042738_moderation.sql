-- Add column "hidden_at" to table: "comments"
ALTER TABLE `comments` ADD COLUMN `hidden_at` datetime NULL;
-- Add column "hidden_at" to table: "posts"
ALTER TABLE `posts` ADD COLUMN `hidden_at` datetime NULL;
-- Add column "banned_at" to table: "users"
ALTER TABLE `users` ADD COLUMN `banned_at` datetime NULL;
