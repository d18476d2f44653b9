SELECT count(*) FROM booking_search('{"name":"Hoper","skill":"go"}'::jsonb, 21, NULL::text, NULL);
