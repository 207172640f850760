-- Drop index "comment_post_id_created_at" from table: "comments"
DROP INDEX "comment_post_id_created_at";
-- Modify "comments" table
ALTER TABLE "comments" ADD COLUMN "post_visibility" character varying NOT NULL DEFAULT 'DRAFT';
-- Create index "comment_list_post_id" to table: "comments"
CREATE INDEX "comment_list_post_id" ON "comments" ("post_id", "id");
-- Create index "comment_list_post_id_created_at" to table: "comments"
CREATE INDEX "comment_list_post_id_created_at" ON "comments" ("post_id", "created_at", "id");
-- Create index "participant_list_user_id" to table: "conversation_participants"
CREATE INDEX "participant_list_user_id" ON "conversation_participants" ("user_id", "conversation_id");
-- Drop index "conversation_last_message_at" from table: "conversations"
DROP INDEX "conversation_last_message_at";
-- Create index "conversation_list_last_message_at" to table: "conversations"
CREATE INDEX "conversation_list_last_message_at" ON "conversations" ("last_message_at", "id");
-- Drop index "follow_following_id" from table: "follows"
DROP INDEX "follow_following_id";
-- Create index "follow_list_following_id" to table: "follows"
CREATE INDEX "follow_list_following_id" ON "follows" ("following_id", "user_id");
-- Drop index "message_conversation_id_created_at" from table: "messages"
DROP INDEX "message_conversation_id_created_at";
-- Create index "message_list_conversation_id" to table: "messages"
CREATE INDEX "message_list_conversation_id" ON "messages" ("conversation_id", "id");
-- Create index "message_list_conversation_id_created_at" to table: "messages"
CREATE INDEX "message_list_conversation_id_created_at" ON "messages" ("conversation_id", "created_at", "id");
-- Drop index "notification_recipient_id_created_at" from table: "notifications"
DROP INDEX "notification_recipient_id_created_at";
-- Drop index "notification_recipient_id_read_at" from table: "notifications"
DROP INDEX "notification_recipient_id_read_at";
-- Create index "notification_list_recipient_id_created_at" to table: "notifications"
CREATE INDEX "notification_list_recipient_id_created_at" ON "notifications" ("recipient_id", "created_at", "id");
-- Create index "notification_list_unread_recipient_id_created_at" to table: "notifications"
CREATE INDEX "notification_list_unread_recipient_id_created_at" ON "notifications" ("recipient_id", "created_at", "id") WHERE read_at IS NULL;
-- Create index "post_tag_list_tag_id" to table: "post_tags"
CREATE INDEX "post_tag_list_tag_id" ON "post_tags" ("tag_id", "post_id");
-- Create index "post_list_created_at" to table: "posts"
CREATE INDEX "post_list_created_at" ON "posts" ("created_at", "id");
-- Create index "post_list_public_created_at" to table: "posts"
CREATE INDEX "post_list_public_created_at" ON "posts" ("created_at", "id") WHERE status = 'PUBLISHED' AND hidden_at IS NULL;
-- Create index "post_list_updated_at" to table: "posts"
CREATE INDEX "post_list_updated_at" ON "posts" ("updated_at", "id");
-- Create index "post_list_title" to table: "posts"
CREATE INDEX "post_list_title" ON "posts" ("title", "id");
-- Create index "post_list_published_at" to table: "posts"
CREATE INDEX "post_list_published_at" ON "posts" ("published_at", "id");
-- Create index "post_list_author_id" to table: "posts"
CREATE INDEX "post_list_author_id" ON "posts" ("author_id", "id");
-- Create index "post_list_author_id_created_at" to table: "posts"
CREATE INDEX "post_list_author_id_created_at" ON "posts" ("author_id", "created_at", "id");
-- Create index "post_list_author_id_published_at" to table: "posts"
CREATE INDEX "post_list_author_id_published_at" ON "posts" ("author_id", "published_at", "id");
-- Create index "user_list_display_name" to table: "users"
CREATE INDEX "user_list_display_name" ON "users" ("display_name", "id");
-- Create index "user_list_created_at" to table: "users"
CREATE INDEX "user_list_created_at" ON "users" ("created_at", "id");
-- Create index "user_list_updated_at" to table: "users"
CREATE INDEX "user_list_updated_at" ON "users" ("updated_at", "id");

-- Each comment carries its post's visibility (comments.post_visibility), so that privacy filters
-- comments on their own rows instead of looking their post up once per comment: PUBLIC
-- (published, not hidden), HIDDEN (published, hidden by a moderator) or DRAFT. Triggers keep it,
-- whoever writes the rows.
CREATE FUNCTION "post_visibility"(status character varying, hidden_at timestamptz) RETURNS character varying
  LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN status <> 'PUBLISHED' THEN 'DRAFT' WHEN hidden_at IS NULL THEN 'PUBLIC' ELSE 'HIDDEN' END
$$;

-- The comments already there.
UPDATE "comments" SET "post_visibility" = post_visibility(p.status, p.hidden_at) FROM "posts" p WHERE p.id = "comments"."post_id";

-- A new comment takes its post's visibility, whatever the writer set. The post's row stays locked
-- (FOR SHARE) until the comment commits, so that a concurrent change of the post's status or
-- hidden_at waits for it, and then finds it below. A missing post leaves DRAFT: the foreign key
-- refuses the row.
CREATE FUNCTION "comment_post_visibility"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.post_visibility := coalesce((SELECT post_visibility(p.status, p.hidden_at) FROM posts p WHERE p.id = NEW.post_id FOR SHARE), 'DRAFT');
  RETURN NEW;
END $$;
CREATE TRIGGER "comment_post_visibility" BEFORE INSERT ON "comments"
  FOR EACH ROW EXECUTE FUNCTION comment_post_visibility();

-- A post's change of status or hidden_at reaches its comments.
CREATE FUNCTION "post_visibility_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE comments SET post_visibility = post_visibility(NEW.status, NEW.hidden_at) WHERE post_id = NEW.id;
  RETURN NULL;
END $$;
CREATE TRIGGER "post_visibility_changed" AFTER UPDATE OF "status", "hidden_at" ON "posts"
  FOR EACH ROW WHEN (post_visibility(OLD.status, OLD.hidden_at) IS DISTINCT FROM post_visibility(NEW.status, NEW.hidden_at))
  EXECUTE FUNCTION post_visibility_changed();
