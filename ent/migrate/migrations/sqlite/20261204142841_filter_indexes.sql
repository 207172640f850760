-- Create index "post_author_id_created_at" to table: "posts"
CREATE INDEX `post_author_id_created_at` ON `posts` (`author_id`, `created_at`);
-- Create index "post_created_at_id" to table: "posts"
CREATE INDEX `post_created_at_id` ON `posts` (`created_at`, `id`);
-- Create index "post_published_at" to table: "posts"
CREATE INDEX `post_published_at` ON `posts` (`published_at`);
-- Create index "user_role" to table: "users"
CREATE INDEX `user_role` ON `users` (`role`);
-- Create index "posttag_tag_id_post_id" to table: "post_tags"
CREATE INDEX `posttag_tag_id_post_id` ON `post_tags` (`tag_id`, `post_id`);
