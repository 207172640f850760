-- Modify "users" table
ALTER TABLE "users" ADD COLUMN "mail_new_follower" character varying NOT NULL DEFAULT 'DAILY', ADD COLUMN "mail_new_comment" character varying NOT NULL DEFAULT 'INSTANT', ADD COLUMN "mail_post_liked" character varying NOT NULL DEFAULT 'DAILY', ADD COLUMN "mail_new_message" character varying NOT NULL DEFAULT 'INSTANT', ADD COLUMN "digest_through" timestamptz NULL;
