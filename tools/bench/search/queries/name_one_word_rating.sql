SELECT count(*) FROM booking_search('{"name":"Hoper","sort":"rating"}'::jsonb, 21, NULL::text, NULL);
