-- Disable the enforcement of foreign-keys constraints
PRAGMA foreign_keys = off;
-- Create "new_images" table
CREATE TABLE `new_images` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `purpose` text NOT NULL, `alt` text NOT NULL DEFAULT (''), `key` text NOT NULL, `format` text NOT NULL, `width` integer NOT NULL, `height` integer NOT NULL, `sizes` json NOT NULL, `status` text NOT NULL DEFAULT ('READY'), `bytes` integer NOT NULL, `color` text NOT NULL, `attached_at` datetime NULL, `released_at` datetime NULL, `hidden_at` datetime NULL, `post_id` integer NULL, `owner_id` integer NOT NULL, CONSTRAINT `images_posts_images` FOREIGN KEY (`post_id`) REFERENCES `posts` (`id`) ON DELETE SET NULL, CONSTRAINT `images_users_images` FOREIGN KEY (`owner_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Set sequence for "new_images" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("new_images", 55834574848);
-- Copy rows from old table "images" to new temporary table "new_images"
INSERT INTO `new_images` (`id`, `created_at`, `updated_at`, `purpose`, `alt`, `key`, `format`, `width`, `height`, `sizes`, `bytes`, `color`, `attached_at`, `released_at`, `hidden_at`, `post_id`, `owner_id`) SELECT `id`, `created_at`, `updated_at`, `purpose`, `alt`, `key`, `format`, `width`, `height`, `sizes`, `bytes`, `color`, `attached_at`, `released_at`, `hidden_at`, `post_id`, `owner_id` FROM `images`;
-- Drop "images" table after copying rows
DROP TABLE `images`;
-- Rename temporary table "new_images" to "images"
ALTER TABLE `new_images` RENAME TO `images`;
-- Create index "images_key_key" to table: "images"
CREATE UNIQUE INDEX `images_key_key` ON `images` (`key`);
-- Create index "image_owner_id_created_at" to table: "images"
CREATE INDEX `image_owner_id_created_at` ON `images` (`owner_id`, `created_at`);
-- Create index "image_attached_at_created_at" to table: "images"
CREATE INDEX `image_attached_at_created_at` ON `images` (`attached_at`, `created_at`);
-- Create index "image_released_at" to table: "images"
CREATE INDEX `image_released_at` ON `images` (`released_at`);
-- Create index "image_post_id" to table: "images"
CREATE INDEX `image_post_id` ON `images` (`post_id`);
-- Enable back the enforcement of foreign-keys constraints
PRAGMA foreign_keys = on;
