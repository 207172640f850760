-- Modify "users" table
ALTER TABLE "users" ADD COLUMN "message_policy" character varying NOT NULL DEFAULT 'EVERYONE';
