-- Images, a post's cover and a user's uploaded avatar. Columns of posts and users are added in
-- place: a rebuild of either table would drop the triggers that live on it (search, comments'
-- post visibility).
-- Create "images" table
CREATE TABLE `images` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `purpose` text NOT NULL, `alt` text NOT NULL DEFAULT (''), `key` text NOT NULL, `format` text NOT NULL, `width` integer NOT NULL, `height` integer NOT NULL, `sizes` json NOT NULL, `bytes` integer NOT NULL, `color` text NOT NULL, `attached_at` datetime NULL, `released_at` datetime NULL, `hidden_at` datetime NULL, `post_id` integer NULL, `owner_id` integer NOT NULL, CONSTRAINT `images_posts_images` FOREIGN KEY (`post_id`) REFERENCES `posts` (`id`) ON DELETE SET NULL, CONSTRAINT `images_users_images` FOREIGN KEY (`owner_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Set sequence for "images" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("images", 55834574848);
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
-- Add column "cover_id" to table: "posts"
ALTER TABLE `posts` ADD COLUMN `cover_id` integer NULL CONSTRAINT `posts_images_cover` REFERENCES `images` (`id`) ON DELETE SET NULL;
-- Add column "avatar_image_id" to table: "users"
ALTER TABLE `users` ADD COLUMN `avatar_image_id` integer NULL;
