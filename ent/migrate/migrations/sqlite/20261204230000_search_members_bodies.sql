-- A MEMBERS post's body is its members' alone: it is left out of the post's search document, so
-- that nobody finds the post (or learns what it says) by words of the body. Its title, tags and
-- description are indexed as before. A change of visibility re-indexes the post.
DROP TRIGGER `post_search_insert`;
CREATE TRIGGER `post_search_insert` AFTER INSERT ON `posts` BEGIN
  INSERT INTO `post_search` (rowid, `title`, `tags`, `description`, `body`)
    VALUES (NEW.`id`, NEW.`title`, '', NEW.`description`, CASE WHEN NEW.`visibility` = 'PUBLIC' THEN NEW.`body` ELSE '' END);
END;
DROP TRIGGER `post_search_update`;
CREATE TRIGGER `post_search_update` AFTER UPDATE OF `title`, `description`, `body`, `visibility` ON `posts` BEGIN
  UPDATE `post_search` SET `title` = NEW.`title`, `description` = NEW.`description`,
    `body` = CASE WHEN NEW.`visibility` = 'PUBLIC' THEN NEW.`body` ELSE '' END WHERE rowid = NEW.`id`;
END;
UPDATE `post_search` SET `body` = '' WHERE rowid IN (SELECT `id` FROM `posts` WHERE `visibility` <> 'PUBLIC');
