-- A MEMBERS post's body is its members' alone: it is left out of the post's search document, so
-- that nobody finds the post (or learns what it says) by words of the body. Its title, tags and
-- description are indexed as before. A change of visibility re-indexes the post.
CREATE OR REPLACE FUNCTION "post_search_refresh"(ids bigint[]) RETURNS void LANGUAGE sql AS $$
  INSERT INTO post_search (post_id, document)
  SELECT p.id,
         setweight(to_tsvector('english', p.title), 'A') ||
         setweight(to_tsvector('english', coalesce(t.names, '')), 'A') ||
         setweight(to_tsvector('english', p.description), 'B') ||
         CASE WHEN p.visibility = 'PUBLIC' THEN setweight(to_tsvector('english', p.body), 'C') ELSE ''::tsvector END
  FROM posts p
  LEFT JOIN LATERAL (
    SELECT string_agg(tags.name, ' ') AS names
    FROM post_tags JOIN tags ON tags.id = post_tags.tag_id
    WHERE post_tags.post_id = p.id
  ) t ON true
  WHERE p.id = ANY (ids)
  ON CONFLICT (post_id) DO UPDATE SET document = excluded.document
$$;
DROP TRIGGER "post_search_update" ON "posts";
CREATE TRIGGER "post_search_update" AFTER UPDATE OF "title", "description", "body", "visibility" ON "posts"
  FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.description IS DISTINCT FROM NEW.description
    OR OLD.body IS DISTINCT FROM NEW.body OR OLD.visibility IS DISTINCT FROM NEW.visibility)
  EXECUTE FUNCTION post_search_updated();
SELECT post_search_refresh(ARRAY(SELECT id FROM posts WHERE visibility <> 'PUBLIC'));
