SELECT count(*) FROM booking_search(jsonb_build_object('skill','go','available_from',now() + interval '300 days','available_to',now() + interval '301 days'), 21, NULL::text, NULL);
