-- Drop index "like_post_id" from table: "likes"
DROP INDEX "like_post_id";
-- Create index "like_post_id_created_at" to table: "likes"
CREATE INDEX "like_post_id_created_at" ON "likes" ("post_id", "created_at");
