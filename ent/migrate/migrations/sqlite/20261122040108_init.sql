-- Create "comments" table
CREATE TABLE `comments` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `body` text NOT NULL, `post_id` integer NOT NULL, `author_id` integer NOT NULL, CONSTRAINT `comments_posts_comments` FOREIGN KEY (`post_id`) REFERENCES `posts` (`id`) ON DELETE CASCADE, CONSTRAINT `comments_users_comments` FOREIGN KEY (`author_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Create index "comment_post_id_created_at" to table: "comments"
CREATE INDEX `comment_post_id_created_at` ON `comments` (`post_id`, `created_at`);
-- Create "follows" table
CREATE TABLE `follows` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `user_id` integer NOT NULL, `following_id` integer NOT NULL, CONSTRAINT `follows_users_user` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE, CONSTRAINT `follows_users_following` FOREIGN KEY (`following_id`) REFERENCES `users` (`id`) ON DELETE CASCADE, CONSTRAINT `follow_not_self` CHECK (user_id <> following_id));
-- Set sequence for "follows" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("follows", 4294967296);
-- Create index "follow_user_id_following_id" to table: "follows"
CREATE UNIQUE INDEX `follow_user_id_following_id` ON `follows` (`user_id`, `following_id`);
-- Create index "follow_following_id" to table: "follows"
CREATE INDEX `follow_following_id` ON `follows` (`following_id`);
-- Create "likes" table
CREATE TABLE `likes` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `user_id` integer NOT NULL, `post_id` integer NOT NULL, CONSTRAINT `likes_users_user` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE, CONSTRAINT `likes_posts_post` FOREIGN KEY (`post_id`) REFERENCES `posts` (`id`) ON DELETE CASCADE);
-- Set sequence for "likes" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("likes", 8589934592);
-- Create index "like_user_id_post_id" to table: "likes"
CREATE UNIQUE INDEX `like_user_id_post_id` ON `likes` (`user_id`, `post_id`);
-- Create index "like_post_id" to table: "likes"
CREATE INDEX `like_post_id` ON `likes` (`post_id`);
-- Create "posts" table
CREATE TABLE `posts` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `slug` text NOT NULL, `title` text NOT NULL, `description` text NOT NULL DEFAULT (''), `body` text NOT NULL DEFAULT (''), `status` text NOT NULL DEFAULT ('DRAFT'), `published_at` datetime NULL, `author_id` integer NOT NULL, CONSTRAINT `posts_users_posts` FOREIGN KEY (`author_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Set sequence for "posts" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("posts", 12884901888);
-- Create index "posts_slug_key" to table: "posts"
CREATE UNIQUE INDEX `posts_slug_key` ON `posts` (`slug`);
-- Create index "post_status_published_at" to table: "posts"
CREATE INDEX `post_status_published_at` ON `posts` (`status`, `published_at`);
-- Create index "post_author_id_status_published_at" to table: "posts"
CREATE INDEX `post_author_id_status_published_at` ON `posts` (`author_id`, `status`, `published_at`);
-- Create "tags" table
CREATE TABLE `tags` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `name` text NOT NULL, `created_at` datetime NOT NULL);
-- Set sequence for "tags" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("tags", 17179869184);
-- Create index "tags_name_key" to table: "tags"
CREATE UNIQUE INDEX `tags_name_key` ON `tags` (`name`);
-- Create "users" table
CREATE TABLE `users` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `created_at` datetime NOT NULL, `updated_at` datetime NOT NULL, `username` text NOT NULL, `email` text NOT NULL, `password_hash` text NOT NULL, `display_name` text NOT NULL DEFAULT (''), `bio` text NOT NULL DEFAULT (''), `avatar_url` text NOT NULL DEFAULT (''), `role` text NOT NULL DEFAULT ('USER'));
-- Set sequence for "users" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("users", 21474836480);
-- Create index "users_username_key" to table: "users"
CREATE UNIQUE INDEX `users_username_key` ON `users` (`username`);
-- Create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX `users_email_key` ON `users` (`email`);
-- Create "post_tags" table
CREATE TABLE `post_tags` (`post_id` integer NOT NULL, `tag_id` integer NOT NULL, PRIMARY KEY (`post_id`, `tag_id`), CONSTRAINT `post_tags_post_id` FOREIGN KEY (`post_id`) REFERENCES `posts` (`id`) ON DELETE CASCADE, CONSTRAINT `post_tags_tag_id` FOREIGN KEY (`tag_id`) REFERENCES `tags` (`id`) ON DELETE CASCADE);
