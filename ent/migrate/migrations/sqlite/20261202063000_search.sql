-- Full-text search with FTS5. The documents live in tables of their own, outside the ent schema,
-- and triggers keep them in step with the rows they index, whoever writes those rows. A
-- document's rowid is the ID of its post or user.

-- post_search: each post's title, tags, description and body; queries weigh the columns.
CREATE VIRTUAL TABLE `post_search` USING fts5(`title`, `tags`, `description`, `body`, tokenize = 'porter unicode61 remove_diacritics 2');
CREATE TRIGGER `post_search_insert` AFTER INSERT ON `posts` BEGIN
  INSERT INTO `post_search` (rowid, `title`, `tags`, `description`, `body`) VALUES (NEW.`id`, NEW.`title`, '', NEW.`description`, NEW.`body`);
END;
CREATE TRIGGER `post_search_update` AFTER UPDATE OF `title`, `description`, `body` ON `posts` BEGIN
  UPDATE `post_search` SET `title` = NEW.`title`, `description` = NEW.`description`, `body` = NEW.`body` WHERE rowid = NEW.`id`;
END;
CREATE TRIGGER `post_search_delete` AFTER DELETE ON `posts` BEGIN
  DELETE FROM `post_search` WHERE rowid = OLD.`id`;
END;
CREATE TRIGGER `post_search_tags_insert` AFTER INSERT ON `post_tags` BEGIN
  UPDATE `post_search` SET `tags` = (SELECT coalesce(group_concat(`tags`.`name`, ' '), '') FROM `post_tags` JOIN `tags` ON `tags`.`id` = `post_tags`.`tag_id` WHERE `post_tags`.`post_id` = NEW.`post_id`) WHERE rowid = NEW.`post_id`;
END;
CREATE TRIGGER `post_search_tags_delete` AFTER DELETE ON `post_tags` BEGIN
  UPDATE `post_search` SET `tags` = (SELECT coalesce(group_concat(`tags`.`name`, ' '), '') FROM `post_tags` JOIN `tags` ON `tags`.`id` = `post_tags`.`tag_id` WHERE `post_tags`.`post_id` = OLD.`post_id`) WHERE rowid = OLD.`post_id`;
END;
CREATE TRIGGER `post_search_tag_rename` AFTER UPDATE OF `name` ON `tags` BEGIN
  UPDATE `post_search` SET `tags` = (SELECT coalesce(group_concat(`tags`.`name`, ' '), '') FROM `post_tags` JOIN `tags` ON `tags`.`id` = `post_tags`.`tag_id` WHERE `post_tags`.`post_id` = `post_search`.rowid)
    WHERE rowid IN (SELECT `post_id` FROM `post_tags` WHERE `tag_id` = NEW.`id`);
END;

-- user_search: handles and display names for as-you-type prefix search, without stemming.
CREATE VIRTUAL TABLE `user_search` USING fts5(`username`, `display_name`, tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3');
CREATE TRIGGER `user_search_insert` AFTER INSERT ON `users` BEGIN
  INSERT INTO `user_search` (rowid, `username`, `display_name`) VALUES (NEW.`id`, NEW.`username`, NEW.`display_name`);
END;
CREATE TRIGGER `user_search_update` AFTER UPDATE OF `username`, `display_name` ON `users` BEGIN
  UPDATE `user_search` SET `username` = NEW.`username`, `display_name` = NEW.`display_name` WHERE rowid = NEW.`id`;
END;
CREATE TRIGGER `user_search_delete` AFTER DELETE ON `users` BEGIN
  DELETE FROM `user_search` WHERE rowid = OLD.`id`;
END;

-- Index what is already there.
INSERT INTO `post_search` (rowid, `title`, `tags`, `description`, `body`)
  SELECT `id`, `title`, coalesce((SELECT group_concat(`tags`.`name`, ' ') FROM `post_tags` JOIN `tags` ON `tags`.`id` = `post_tags`.`tag_id` WHERE `post_tags`.`post_id` = `posts`.`id`), ''), `description`, `body` FROM `posts`;
INSERT INTO `user_search` (rowid, `username`, `display_name`) SELECT `id`, `username`, `display_name` FROM `users`;
