-- Add column "message_policy" to table: "users". In place: a rebuild of the table would drop the
-- user_search triggers (20261202063000_search.sql) that live on it.
ALTER TABLE `users` ADD COLUMN `message_policy` text NOT NULL DEFAULT ('EVERYONE');
