-- Drop index "posttag_tag_id_post_id" from table: "post_tags"
DROP INDEX "posttag_tag_id_post_id";
-- Drop index "post_author_id_created_at" from table: "posts"
DROP INDEX "post_author_id_created_at";
-- Drop index "post_created_at_id" from table: "posts"
DROP INDEX "post_created_at_id";
-- Drop index "post_published_at" from table: "posts"
DROP INDEX "post_published_at";
