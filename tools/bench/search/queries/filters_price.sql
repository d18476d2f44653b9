SELECT count(*) FROM booking_search('{"tag":"senior","min_experience":10,"min_rating":4,"max_price":8000,"sort":"price"}'::jsonb, 21, NULL::text, NULL);
