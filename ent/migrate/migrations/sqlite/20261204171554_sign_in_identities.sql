-- Create "identities" table
CREATE TABLE `identities` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `provider` text NOT NULL, `subject` text NOT NULL, `email` text NOT NULL DEFAULT (''), `created_at` datetime NOT NULL, `user_id` integer NOT NULL, CONSTRAINT `identities_users_identities` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`) ON DELETE CASCADE);
-- Set sequence for "identities" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("identities", 55834574848);
-- Create index "identity_provider_subject" to table: "identities"
CREATE UNIQUE INDEX `identity_provider_subject` ON `identities` (`provider`, `subject`);
-- Create index "identity_user_id" to table: "identities"
CREATE INDEX `identity_user_id` ON `identities` (`user_id`);
-- Create "sign_in_flows" table
CREATE TABLE `sign_in_flows` (`id` integer NOT NULL PRIMARY KEY AUTOINCREMENT, `key_hash` text NOT NULL, `provider` text NOT NULL, `redirect_uri` text NOT NULL, `nonce` text NOT NULL DEFAULT (''), `verifier` text NOT NULL DEFAULT (''), `binding_hash` text NULL, `link_user_id` integer NULL, `user_id` integer NULL, `subject` text NOT NULL DEFAULT (''), `email` text NOT NULL DEFAULT (''), `created_at` datetime NOT NULL, `expires_at` datetime NOT NULL);
-- Set sequence for "sign_in_flows" table
INSERT INTO sqlite_sequence (name, seq) VALUES ("sign_in_flows", 60129542144);
-- Create index "sign_in_flows_key_hash_key" to table: "sign_in_flows"
CREATE UNIQUE INDEX `sign_in_flows_key_hash_key` ON `sign_in_flows` (`key_hash`);
-- Create index "signinflow_expires_at" to table: "sign_in_flows"
CREATE INDEX `signinflow_expires_at` ON `sign_in_flows` (`expires_at`);
