-- Add the notification mail settings to "users". Written by hand: atlas would rebuild the table,
-- which drops its search triggers (see the search migration).
ALTER TABLE `users` ADD COLUMN `mail_new_follower` text NOT NULL DEFAULT ('DAILY');
ALTER TABLE `users` ADD COLUMN `mail_new_comment` text NOT NULL DEFAULT ('INSTANT');
ALTER TABLE `users` ADD COLUMN `mail_post_liked` text NOT NULL DEFAULT ('DAILY');
ALTER TABLE `users` ADD COLUMN `mail_new_message` text NOT NULL DEFAULT ('INSTANT');
ALTER TABLE `users` ADD COLUMN `digest_through` datetime NULL;
