-- Modify "comments" table
ALTER TABLE "comments" ADD COLUMN "hidden_at" timestamptz NULL;
-- Modify "posts" table
ALTER TABLE "posts" ADD COLUMN "hidden_at" timestamptz NULL;
-- Modify "users" table
ALTER TABLE "users" ADD COLUMN "banned_at" timestamptz NULL;
