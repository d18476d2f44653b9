SELECT count(*) FROM booking_search('{"skill":"rust","sort":"rating"}'::jsonb, 21, NULL::text, NULL);
