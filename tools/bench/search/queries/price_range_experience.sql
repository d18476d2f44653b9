SELECT count(*) FROM booking_search('{"min_price":5000,"max_price":9000,"sort":"experience"}'::jsonb, 21, NULL::text, NULL);
