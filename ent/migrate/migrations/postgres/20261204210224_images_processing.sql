-- Modify "images" table
ALTER TABLE "images" ADD COLUMN "status" character varying NOT NULL DEFAULT 'READY';
