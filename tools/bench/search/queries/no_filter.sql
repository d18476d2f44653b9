SELECT count(*) FROM booking_search('{}'::jsonb, 21, NULL::text, NULL);
