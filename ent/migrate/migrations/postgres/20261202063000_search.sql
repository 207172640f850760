-- Full-text search. The documents live in tables of their own, outside the ent schema, and
-- triggers keep them in step with the rows they index, whoever writes those rows (the API, seeds,
-- bulk loads, a moderator at the psql prompt).

-- post_search: each post's weighted document: title and tags (A) > description (B) > body (C).
CREATE TABLE "post_search" (
  "post_id" bigint NOT NULL PRIMARY KEY REFERENCES "posts" ("id") ON DELETE CASCADE,
  "document" tsvector NOT NULL
);
CREATE INDEX "post_search_document" ON "post_search" USING gin ("document");

CREATE FUNCTION "post_search_refresh"(ids bigint[]) RETURNS void LANGUAGE sql AS $$
  INSERT INTO post_search (post_id, document)
  SELECT p.id,
         setweight(to_tsvector('english', p.title), 'A') ||
         setweight(to_tsvector('english', coalesce(t.names, '')), 'A') ||
         setweight(to_tsvector('english', p.description), 'B') ||
         setweight(to_tsvector('english', p.body), 'C')
  FROM posts p
  LEFT JOIN LATERAL (
    SELECT string_agg(tags.name, ' ') AS names
    FROM post_tags JOIN tags ON tags.id = post_tags.tag_id
    WHERE post_tags.post_id = p.id
  ) t ON true
  WHERE p.id = ANY (ids)
  ON CONFLICT (post_id) DO UPDATE SET document = excluded.document
$$;

-- Inserts and tag changes are indexed once per statement, so a bulk load costs one pass.
CREATE FUNCTION "post_search_inserted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM post_search_refresh(ARRAY(SELECT DISTINCT id FROM changed));
  RETURN NULL;
END $$;
CREATE FUNCTION "post_search_tags_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM post_search_refresh(ARRAY(SELECT DISTINCT post_id FROM changed));
  RETURN NULL;
END $$;
CREATE FUNCTION "post_search_updated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM post_search_refresh(ARRAY[NEW.id]);
  RETURN NULL;
END $$;
CREATE FUNCTION "post_search_tag_renamed"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM post_search_refresh(ARRAY(SELECT post_id FROM post_tags WHERE tag_id = NEW.id));
  RETURN NULL;
END $$;
CREATE TRIGGER "post_search_insert" AFTER INSERT ON "posts"
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION post_search_inserted();
CREATE TRIGGER "post_search_update" AFTER UPDATE OF "title", "description", "body" ON "posts"
  FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.description IS DISTINCT FROM NEW.description OR OLD.body IS DISTINCT FROM NEW.body)
  EXECUTE FUNCTION post_search_updated();
CREATE TRIGGER "post_search_tags_insert" AFTER INSERT ON "post_tags"
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION post_search_tags_changed();
CREATE TRIGGER "post_search_tags_delete" AFTER DELETE ON "post_tags"
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION post_search_tags_changed();
CREATE TRIGGER "post_search_tag_rename" AFTER UPDATE OF "name" ON "tags"
  FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION post_search_tag_renamed();

-- user_search: handles and display names for as-you-type prefix search, without stemming. The
-- parser splits a handle at underscores: "ada_lovelace" is indexed as "ada" and "lovelace".
CREATE TABLE "user_search" (
  "user_id" bigint NOT NULL PRIMARY KEY REFERENCES "users" ("id") ON DELETE CASCADE,
  "document" tsvector NOT NULL
);
CREATE INDEX "user_search_document" ON "user_search" USING gin ("document");

CREATE FUNCTION "user_search_refresh"(ids bigint[]) RETURNS void LANGUAGE sql AS $$
  INSERT INTO user_search (user_id, document)
  SELECT u.id, to_tsvector('simple', u.username || ' ' || u.display_name)
  FROM users u WHERE u.id = ANY (ids)
  ON CONFLICT (user_id) DO UPDATE SET document = excluded.document
$$;
CREATE FUNCTION "user_search_inserted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM user_search_refresh(ARRAY(SELECT id FROM changed));
  RETURN NULL;
END $$;
CREATE FUNCTION "user_search_updated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM user_search_refresh(ARRAY[NEW.id]);
  RETURN NULL;
END $$;
CREATE TRIGGER "user_search_insert" AFTER INSERT ON "users"
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION user_search_inserted();
CREATE TRIGGER "user_search_update" AFTER UPDATE OF "username", "display_name" ON "users"
  FOR EACH ROW WHEN (OLD.username IS DISTINCT FROM NEW.username OR OLD.display_name IS DISTINCT FROM NEW.display_name)
  EXECUTE FUNCTION user_search_updated();

-- Index what is already there.
SELECT post_search_refresh(ARRAY(SELECT id FROM posts));
SELECT user_search_refresh(ARRAY(SELECT id FROM users));
