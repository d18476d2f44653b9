SELECT count(*) FROM booking_search('{"min_rating":4.5,"skill":"python"}'::jsonb, 21, NULL::text, NULL);
