-- Create "conversations" table
CREATE TABLE `conversations` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `pair` text NOT NULL, `created_at` datetime NOT NULL, `last_message_at` datetime NOT NULL);
-- Set sequence for "conversations" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("conversations", 34359738368);
-- Create index "conversations_pair_key" to table: "conversations"
CREATE UNIQUE INDEX `conversations_pair_key` ON `conversations` (`pair`);
-- Create index "conversation_last_message_at" to table: "conversations"
CREATE INDEX `conversation_last_message_at` ON `conversations` (`last_message_at`);
-- Create "messages" table
CREATE TABLE `messages` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `body` text NOT NULL, `created_at` datetime NOT NULL, `conversation_id` integer NOT NULL, `sender_id` integer NOT NULL, CONSTRAINT `messages_conversations_messages` FOREIGN KEY (`conversation_id`) REFERENCES `conversations` (`id`) ON DELETE CASCADE, CONSTRAINT `messages_users_sender` FOREIGN KEY (`sender_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Set sequence for "messages" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("messages", 38654705664);
-- Create index "message_conversation_id_created_at" to table: "messages"
CREATE INDEX `message_conversation_id_created_at` ON `messages` (`conversation_id`, `created_at`);
-- Create "notifications" table
CREATE TABLE `notifications` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `kind` text NOT NULL, `created_at` datetime NOT NULL, `read_at` datetime NULL, `recipient_id` integer NOT NULL, `actor_id` integer NOT NULL, `post_id` integer NULL, `comment_id` integer NULL, `message_id` integer NULL, CONSTRAINT `notifications_users_recipient` FOREIGN KEY (`recipient_id`) REFERENCES `users` (`id`) ON DELETE CASCADE, CONSTRAINT `notifications_users_actor` FOREIGN KEY (`actor_id`) REFERENCES `users` (`id`) ON DELETE CASCADE, CONSTRAINT `notifications_posts_post` FOREIGN KEY (`post_id`) REFERENCES `posts` (`id`) ON DELETE CASCADE, CONSTRAINT `notifications_comments_comment` FOREIGN KEY (`comment_id`) REFERENCES `comments` (`id`) ON DELETE CASCADE, CONSTRAINT `notifications_messages_message` FOREIGN KEY (`message_id`) REFERENCES `messages` (`id`) ON DELETE CASCADE);
-- Set sequence for "notifications" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("notifications", 42949672960);
-- Create index "notification_recipient_id_created_at" to table: "notifications"
CREATE INDEX `notification_recipient_id_created_at` ON `notifications` (`recipient_id`, `created_at`);
-- Create index "notification_recipient_id_read_at" to table: "notifications"
CREATE INDEX `notification_recipient_id_read_at` ON `notifications` (`recipient_id`, `read_at`);
-- Create "conversation_participants" table
CREATE TABLE `conversation_participants` (`conversation_id` integer NOT NULL, `user_id` integer NOT NULL, PRIMARY KEY (`conversation_id`, `user_id`), CONSTRAINT `conversation_participants_conversation_id` FOREIGN KEY (`conversation_id`) REFERENCES `conversations` (`id`) ON DELETE CASCADE, CONSTRAINT `conversation_participants_user_id` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
