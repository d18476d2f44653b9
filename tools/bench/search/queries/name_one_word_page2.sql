SELECT count(*) FROM booking_search('{"name":"Hoper"}'::jsonb, 21, '64.50', 50000);
