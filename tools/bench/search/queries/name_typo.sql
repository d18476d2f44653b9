SELECT count(*) FROM booking_search('{"name":"Grase Hoper"}'::jsonb, 21, NULL::text, NULL);
