SELECT count(*) FROM booking_search(jsonb_build_object('skill','webrtc','available_from',now() + interval '2 days','available_to',now() + interval '3 days'), 21, NULL::text, NULL);
