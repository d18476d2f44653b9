SELECT count(*) FROM booking_search('{"name":"Grase Hoper","skill":"go","sort":"rating"}'::jsonb, 21, NULL::text, NULL);
