-- Data generator for the search benchmark: :n mentors (default 100000)
-- with users, profiles drawn from fixed vocabularies (skills, tags, topics,
-- languages, zones), prices (a quarter free), experience, ratings, one
-- session type each and weekday availability 09:00-17:00 for a tenth of
-- them (so "has a free slot" has something to find). Deterministic
-- (setseed). At COMMIT the triggers of schema/0007_search.sql compute the
-- search free-slot table for those mentors with the same functions as in
-- production (the slowest part: minutes on a loaded 2-core machine).
-- Usage: psql -v n=100000 -f gen_mentors.sql
\set ON_ERROR_STOP on
SELECT setseed(0.42);
\if :{?n}
\else
\set n 100000
\endif
BEGIN;
CREATE TEMP TABLE vocab AS SELECT
  ARRAY['c','rust','go','python','java','kotlin','swift','typescript','react','sql','postgres','kubernetes',
        'aws','ml','pytorch','security','networking','webrtc','design','product','leadership','career',
        'interviews','startups','marketing','sales','finance','data','statistics','ios','android','devops'] AS skills,
  ARRAY['beginner-friendly','senior','staff','faang','remote','career-change','bootcamp','phd',
        'founder','manager','open-source','women-in-tech'] AS tags,
  ARRAY['system design','algorithms','code review','resume','negotiation','architecture','testing',
        'performance','mentoring','public speaking'] AS topics,
  ARRAY['en','es','de','fr','pt','hi','zh','ja'] AS langs,
  ARRAY['Europe/London','America/New_York','America/Los_Angeles','Europe/Berlin','Asia/Kolkata',
        'Asia/Tokyo','Australia/Sydney','America/Sao_Paulo','UTC'] AS zones,
  ARRAY['Ada','Grace','Alan','Linus','Barbara','Donald','Ken','Dennis','Margaret','Edsger','Frances',
        'John','Radia','Tim','Vint','Bjarne','Guido','Anders','Sophie','Yukihiro','Rob','Brian',
        'Katherine','Hedy','Niklaus','Leslie','Shafi','Silvio','Whitfield','Judea'] AS first,
  ARRAY['Lovelace','Hopper','Turing','Torvalds','Liskov','Knuth','Thompson','Ritchie','Hamilton',
        'Dijkstra','Allen','McCarthy','Perlman','Berners','Cerf','Stroustrup','Rossum','Hejlsberg',
        'Wilson','Matsumoto','Pike','Kernighan','Johnson','Lamarr','Wirth','Lamport','Goldwasser',
        'Micali','Diffie','Pearl'] AS last;

INSERT INTO users (email, name, role, status)
SELECT 'bench' || g || '@bench.example', 'Bench ' || g, 'mentor', 'active'
  FROM generate_series(1, :n) g;

INSERT INTO mentor_profiles (user_id, name, headline, skills, tags, topics, languages,
                             years_experience, time_zone, price_cents, rating_avg, rating_count)
SELECT u.id,
       v.first[1 + (random() * 29)::int] || ' ' || v.last[1 + (random() * 29)::int] || ' ' || u.id,
       'Mentor ' || u.id,
       ARRAY(SELECT DISTINCT v.skills[1 + (random() * 31)::int] FROM generate_series(1, 4) WHERE u.id > 0),
       ARRAY(SELECT DISTINCT v.tags[1 + (random() * 11)::int] FROM generate_series(1, 2) WHERE u.id > 0),
       ARRAY(SELECT DISTINCT v.topics[1 + (random() * 9)::int] FROM generate_series(1, 2) WHERE u.id > 0),
       ARRAY[v.langs[1 + (random() * 7)::int]],
       (random() * 30)::int,
       v.zones[1 + (random() * 8)::int],
       CASE WHEN random() < 0.25 THEN 0 ELSE (10 + (random() * 190)::int) * 100 END,
       round((1 + random() * 4)::numeric, 2),
       (random() * 200)::int
  FROM users u, vocab v
 WHERE u.email LIKE 'bench%@bench.example';

INSERT INTO session_types (mentor_id, title, duration_min, horizon_days, capacity)
SELECT user_id, '1:1', 60, 60, 1 FROM mentor_profiles WHERE user_id % 10 = 0;
INSERT INTO availability_rules (mentor_id, weekday, start_time, end_time)
SELECT p.user_id, w, '09:00', '17:00' FROM mentor_profiles p, generate_series(1, 5) w
 WHERE p.user_id % 10 = 0;
-- Statistics before COMMIT: the commit runs the free-slot computation of
-- schema/0007_search.sql for 10,000 mentors, whose plans need them (without
-- them that commit had not finished after 45 minutes here; the same
-- computation on analysed tables took 7.5).
ANALYZE mentor_profiles;
ANALYZE session_types;
ANALYZE availability_rules;
COMMIT;
-- What autovacuum does on a live database soon after a bulk load: merge
-- the GIN pending lists (free_days was rewritten at COMMIT), set the
-- visibility map, gather statistics.
VACUUM ANALYZE;
