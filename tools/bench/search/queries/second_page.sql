SELECT count(*) FROM booking_search('{"skill":"go","sort":"rating"}'::jsonb, 21, '4.90', 50000);
