SELECT count(*) FROM booking_search(jsonb_build_object('name','Grase Hoper','available_from',now() + interval '1 day','available_to',now() + interval '8 days'), 21, NULL::text, NULL);
