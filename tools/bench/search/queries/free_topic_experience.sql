SELECT count(*) FROM booking_search('{"topic":"system design","free":true,"sort":"experience"}'::jsonb, 21, NULL::text, NULL);
