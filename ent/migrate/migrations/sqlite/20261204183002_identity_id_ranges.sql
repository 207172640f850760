-- Identities and sign-in flows take the global ID ranges after images' (their first migration
-- gave identities the range images have)
UPDATE sqlite_sequence SET seq = 60129542144 WHERE name = "identities" AND seq < 60129542144;
UPDATE sqlite_sequence SET seq = 64424509440 WHERE name = "sign_in_flows" AND seq < 64424509440;
