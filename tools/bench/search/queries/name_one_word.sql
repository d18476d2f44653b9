SELECT count(*) FROM booking_search('{"name":"Hoper"}'::jsonb, 21, NULL::text, NULL);
