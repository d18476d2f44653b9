-- 0007_search: fast mentor search (docs/booking.md, "Search").
--
-- Two structures make GET /api/v1/mentors answer in milliseconds at
-- 100,000 mentors:
--
--   * typo-tolerant names: every distinct lower-cased name word is kept in
--     search_name_words (trigram GIN index). A query word is matched to at
--     most 50 dictionary words by the indexable operators `%` (similarity)
--     and `<%` (word similarity, for prefixes); mentors must contain one of
--     those words for every query word (GIN over mentor_profiles.name_words,
--     a bitmap AND), and only that bounded candidate set is ordered by the
--     whole name's trigram distance. Scanning the name trigram index
--     directly visited thousands of rows for a two-word typo because
--     generated (and real) names share first and last names heavily.
--   * "has a free slot between two instants": search_free_days holds, per
--     mentor and UTC day, the sorted bookable slot starts (and until when
--     each may still be booked, its start minus the session type's
--     minimum notice), so the filter is an index lookup instead of
--     computing slots per mentor. It is recomputed for the affected mentor
--     and days at COMMIT of any transaction that changes availability
--     rules, overrides, blackouts, session types, the mentor's time zone or
--     a session (booking, cancel, reschedule, expired hold): triggers note
--     the change in search_dirty and a deferred constraint trigger applies
--     it, under a per-mentor advisory lock so that concurrent commits see
--     each other. The job `search.refresh_free` recomputes every mentor's
--     horizon once a day (slots entering the horizon, days passing).
--     The slot check at booking time stays authoritative: this table only
--     decides which mentors a search lists.

-- ---------------------------------------------------------------------
-- Names

CREATE FUNCTION search_words(t text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_remove(regexp_split_to_array(lower(t), '[^[:alnum:]]+'), '')
$$;

ALTER TABLE mentor_profiles
    ADD COLUMN name_words text[] GENERATED ALWAYS AS (search_words(name)) STORED;
CREATE INDEX mentor_profiles_name_words ON mentor_profiles USING gin (name_words);

-- Words are only added (a word nobody uses any more matches no mentor).
CREATE TABLE search_name_words (word text PRIMARY KEY);
CREATE INDEX search_name_words_trgm ON search_name_words USING gin (word gin_trgm_ops);
INSERT INTO search_name_words SELECT DISTINCT unnest(name_words) FROM mentor_profiles
    ON CONFLICT DO NOTHING;

CREATE FUNCTION search_add_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_name_words SELECT DISTINCT unnest(NEW.name_words)
        ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER mentor_profiles_words AFTER INSERT OR UPDATE OF name ON mentor_profiles
    FOR EACH ROW EXECUTE FUNCTION search_add_words();

-- Dictionary words close to one query word: typos (similarity) and
-- prefixes ("bart" for "bartholomew", word similarity), best 50 first.
CREATE FUNCTION search_word_candidates(w text) RETURNS text[] LANGUAGE sql STABLE
SET pg_trgm.similarity_threshold = 0.3 SET pg_trgm.word_similarity_threshold = 0.6 AS $$
    SELECT coalesce(array_agg(word), '{}') FROM (
        SELECT word FROM search_name_words
         WHERE word % w OR w <% word OR word = w
         ORDER BY word = w DESC, greatest(similarity(word, w), word_similarity(w, word)) DESC, word
         LIMIT 50) c
$$;

-- ---------------------------------------------------------------------
-- Free slots

CREATE TABLE search_free_days (
    mentor_id    bigint NOT NULL REFERENCES mentor_profiles (user_id) ON DELETE CASCADE,
    day          date NOT NULL,              -- UTC date of the starts
    starts       timestamptz[] NOT NULL,     -- bookable slot starts, sorted
    book_by      timestamptz[] NOT NULL,     -- starts[i] minus the type's minimum notice
    first_start  timestamptz NOT NULL,
    last_start   timestamptz NOT NULL,
    PRIMARY KEY (mentor_id, day)
);
-- The same days as numbers (days since 2000-01-01) on the profile, GIN
-- indexed, so that a search combines them with the other filters in one
-- bitmap; the exact instants are then checked per candidate.
ALTER TABLE mentor_profiles ADD COLUMN free_days integer[] NOT NULL DEFAULT '{}';
CREATE INDEX mentor_profiles_free_days ON mentor_profiles USING gin (free_days);

-- Changes not yet applied, by transaction. No unique key: concurrent
-- transactions never wait for each other here.
CREATE TABLE search_dirty (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mentor_id  bigint NOT NULL,
    from_day   date NOT NULL,
    to_day     date NOT NULL,
    xact       xid8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX search_dirty_mentor ON search_dirty (mentor_id, xact);

CREATE FUNCTION search_today() RETURNS date LANGUAGE sql STABLE AS $$
    SELECT (now() AT TIME ZONE 'UTC')::date
$$;

-- Recompute mentor p_mentor's free days p_from..p_to (UTC dates) from
-- booking_slots(), which applies rules, overrides, blackouts, notice,
-- horizon and occupied time. Days without a free slot lose their row.
CREATE FUNCTION search_refresh_mentor(p_mentor bigint, p_from date, p_to date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz := greatest(p_from::timestamp AT TIME ZONE 'UTC', now());
    hi timestamptz := (p_to + 1)::timestamp AT TIME ZONE 'UTC';
    kept date[];
BEGIN
    -- The profile row is the per-mentor lock: a second commit for the same
    -- mentor waits here and then reads what the first committed.
    PERFORM 1 FROM mentor_profiles WHERE user_id = p_mentor FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    hi := least(hi, now() + make_interval(days => coalesce((SELECT max(horizon_days)
              FROM session_types WHERE mentor_id = p_mentor AND active), 0)));
    IF hi > lo THEN
        WITH s AS (
            SELECT sl.starts_at, max(sl.starts_at - make_interval(mins => st.min_notice_min)) AS book_by
              FROM session_types st, LATERAL booking_slots(st.id, lo, hi) sl
             WHERE st.mentor_id = p_mentor AND st.active
             GROUP BY sl.starts_at
        ), d AS (
            SELECT (starts_at AT TIME ZONE 'UTC')::date AS day,
                   array_agg(starts_at ORDER BY starts_at) AS starts,
                   array_agg(book_by ORDER BY starts_at) AS book_by
              FROM s GROUP BY 1
        ), up AS (
            INSERT INTO search_free_days AS f (mentor_id, day, starts, book_by, first_start, last_start)
            SELECT p_mentor, d.day, d.starts, d.book_by, d.starts[1], d.starts[cardinality(d.starts)]
              FROM d
            ON CONFLICT (mentor_id, day) DO UPDATE SET starts = EXCLUDED.starts,
                   book_by = EXCLUDED.book_by, first_start = EXCLUDED.first_start,
                   last_start = EXCLUDED.last_start
             WHERE (f.starts, f.book_by) IS DISTINCT FROM (EXCLUDED.starts, EXCLUDED.book_by)
            RETURNING f.day
        )
        SELECT array_agg(d.day) INTO kept FROM d LEFT JOIN up ON up.day = d.day;
    END IF;
    DELETE FROM search_free_days
     WHERE mentor_id = p_mentor AND day BETWEEN p_from AND p_to
       AND NOT (day = ANY (coalesce(kept, '{}')));
    UPDATE mentor_profiles p SET free_days = x.days
      FROM (SELECT coalesce(array_agg(day - DATE '2000-01-01' ORDER BY day), '{}') AS days
              FROM search_free_days WHERE mentor_id = p_mentor) x
     WHERE p.user_id = p_mentor AND p.free_days IS DISTINCT FROM x.days;
END $$;

-- Has mentor p_mentor a slot starting in [p_from, p_to) that can still be
-- booked now? (A function so that it runs per candidate, after the
-- indexed filters.)
CREATE FUNCTION search_has_free(p_mentor bigint, p_from timestamptz, p_to timestamptz)
RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN EXISTS (SELECT 1 FROM search_free_days f
                    WHERE f.mentor_id = p_mentor
                      AND f.day BETWEEN (p_from AT TIME ZONE 'UTC')::date AND (p_to AT TIME ZONE 'UTC')::date
                      AND f.last_start >= p_from AND f.first_start < p_to
                      AND EXISTS (SELECT 1 FROM unnest(f.starts, f.book_by) x(s, bb)
                                   WHERE x.s >= p_from AND x.s < p_to AND x.bb > now()));
END $$;

-- Deferred to COMMIT: apply this transaction's changes for one mentor
-- (all its rows at once; the later events of the same mentor find none).
CREATE FUNCTION search_apply_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE lo date; hi date;
BEGIN
    WITH gone AS (
        DELETE FROM search_dirty WHERE mentor_id = NEW.mentor_id AND xact = pg_current_xact_id()
        RETURNING from_day, to_day)
    SELECT min(from_day), max(to_day) INTO lo, hi FROM gone;
    IF lo IS NOT NULL AND EXISTS (SELECT 1 FROM mentor_profiles WHERE user_id = NEW.mentor_id) THEN
        PERFORM search_refresh_mentor(NEW.mentor_id, greatest(lo, search_today()), hi);
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER search_dirty_apply AFTER INSERT ON search_dirty
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION search_apply_dirty();

-- Whole horizon (the longest allowed is 365 days).
CREATE FUNCTION search_mark_mentors(ids bigint[]) RETURNS void LANGUAGE sql AS $$
    INSERT INTO search_dirty (mentor_id, from_day, to_day)
    SELECT DISTINCT m, search_today(), search_today() + 366 FROM unnest(ids) m WHERE m IS NOT NULL
$$;

-- Statement triggers on the availability tables and session types (one
-- per event: a transition table belongs to one event).
CREATE FUNCTION search_mark_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM search_mark_mentors(ARRAY(SELECT DISTINCT mentor_id FROM new_rows));
    RETURN NULL;
END $$;
CREATE FUNCTION search_mark_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM search_mark_mentors(ARRAY(SELECT DISTINCT mentor_id FROM old_rows));
    RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['availability_rules', 'availability_overrides',
                             'availability_blackouts', 'session_types'] LOOP
        EXECUTE format('CREATE TRIGGER %1$s_search_ins AFTER INSERT ON %1$s
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_mark_new()', t);
        EXECUTE format('CREATE TRIGGER %1$s_search_upd AFTER UPDATE ON %1$s
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION search_mark_new()', t);
        EXECUTE format('CREATE TRIGGER %1$s_search_del AFTER DELETE ON %1$s
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION search_mark_old()', t);
    END LOOP;
END $$;

CREATE FUNCTION search_mark_profile() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM search_mark_mentors(ARRAY[NEW.user_id]);
    RETURN NULL;
END $$;
CREATE TRIGGER mentor_profiles_search_tz AFTER UPDATE OF time_zone ON mentor_profiles
    FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
    EXECUTE FUNCTION search_mark_profile();

-- A session taken, released, full or no longer full changes the mentor's
-- free slots on the days around it (other types' slots overlap it too:
-- durations and buffers stay well under a day).
CREATE FUNCTION search_mark_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_dirty (mentor_id, from_day, to_day)
    VALUES (NEW.mentor_id, (lower(NEW.occupied) AT TIME ZONE 'UTC')::date - 1,
            (upper(NEW.occupied) AT TIME ZONE 'UTC')::date + 1);
    RETURN NULL;
END $$;
CREATE TRIGGER sessions_search_ins AFTER INSERT ON sessions
    FOR EACH ROW EXECUTE FUNCTION search_mark_session();
CREATE TRIGGER sessions_search_upd AFTER UPDATE OF status, seats_taken ON sessions
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       OR (OLD.seats_taken >= OLD.capacity) <> (NEW.seats_taken >= NEW.capacity))
    EXECUTE FUNCTION search_mark_session();

-- The daily job: recompute up to p_limit mentors with an active session
-- type after p_after (keyset), each over its whole horizon, and drop past
-- days. Returns the last mentor done, NULL when there are no more (the
-- caller runs one batch per transaction so locks stay short).
CREATE FUNCTION search_refresh_batch(p_after bigint, p_limit integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE m bigint; last bigint;
BEGIN
    IF p_after = 0 THEN
        DELETE FROM search_free_days WHERE day < search_today() - 1;
    END IF;
    FOR m IN SELECT DISTINCT mentor_id FROM session_types
              WHERE active AND mentor_id > p_after ORDER BY mentor_id LIMIT p_limit LOOP
        PERFORM search_refresh_mentor(m, search_today(), search_today() + 366);
        last := m;
    END LOOP;
    RETURN last;
END $$;

-- Fill the table for existing mentors now.
DO $$
DECLARE m bigint;
BEGIN
    FOR m IN SELECT DISTINCT mentor_id FROM session_types WHERE active LOOP
        PERFORM search_refresh_mentor(m, search_today(), search_today() + 366);
    END LOOP;
END $$;

-- The first daily refresh (00:10 UTC tomorrow: the table was just
-- filled); each run queues the next (search.refresh_free).
INSERT INTO jobs (kind, run_at, dedupe_key)
VALUES ('search.refresh_free', ((search_today() + 1) + time '00:10') AT TIME ZONE 'UTC',
        'search.refresh_free:' || (search_today() + 1))
ON CONFLICT DO NOTHING;

-- ---------------------------------------------------------------------
-- The search itself (replaces 0005's): only the filters present are in the
-- WHERE clause, so each plan is built for them.
--   name:      every query word (at most 6) must match one of its
--              dictionary candidates; relevance = trigram distance of the
--              whole name, nearest first
--   available: a free day in range with a start in [from, to) still
--              bookable now
CREATE OR REPLACE FUNCTION booking_search(b jsonb, p_limit integer, p_after_key text,
                                          p_after_id bigint)
RETURNS TABLE (id bigint, sort_key text, item jsonb) LANGUAGE plpgsql STABLE AS $f$
DECLARE
    sort text := coalesce(b->>'sort', 'relevance');
    col text;
    dir text := 'DESC';
    w text;
    cand text[];
    n integer := 0;
    conds text := '';
    a_from timestamptz;
    a_to timestamptz;
BEGIN
    IF b ? 'name' THEN
        FOREACH w IN ARRAY search_words(b->>'name') LOOP
            n := n + 1;
            EXIT WHEN n > 6;
            cand := search_word_candidates(w);
            IF cardinality(cand) = 0 THEN
                RETURN;   -- a word that resembles no name: nobody
            END IF;
            conds := conds || format(' AND p.name_words && %L::text[]', cand);
        END LOOP;
        IF n = 0 THEN
            RETURN;
        END IF;
    END IF;
    IF b ? 'available_from' THEN
        a_from := (b->>'available_from')::timestamptz;
        a_to := (b->>'available_to')::timestamptz;
        IF a_to <= a_from THEN
            RAISE EXCEPTION 'available_to must be after available_from' USING ERRCODE = 'MB400';
        END IF;
        IF a_to - a_from > interval '62 days' THEN
            RAISE EXCEPTION 'at most 62 days between available_from and available_to'
                USING ERRCODE = 'MB400';
        END IF;
        conds := conds || format(' AND p.free_days && %L::int[] AND search_has_free(p.user_id, %L, %L)',
            ARRAY(SELECT d - DATE '2000-01-01' FROM generate_series((a_from AT TIME ZONE 'UTC')::date,
                  (a_to AT TIME ZONE 'UTC')::date, interval '1 day') g, LATERAL (SELECT g::date AS d) x),
            a_from, a_to);
    END IF;
    IF b ? 'skill' THEN conds := conds || format(' AND p.skills @> ARRAY[%L]', lower(b->>'skill')); END IF;
    IF b ? 'tag' THEN conds := conds || format(' AND p.tags @> ARRAY[%L]', lower(b->>'tag')); END IF;
    IF b ? 'topic' THEN conds := conds || format(' AND p.topics @> ARRAY[%L]', lower(b->>'topic')); END IF;
    IF b ? 'min_experience' THEN
        conds := conds || format(' AND p.years_experience >= %s', (b->>'min_experience')::int);
    END IF;
    IF b ? 'min_rating' THEN
        conds := conds || format(' AND p.rating_avg >= %s', (b->>'min_rating')::numeric);
    END IF;
    IF b ? 'min_price' THEN conds := conds || format(' AND p.price_cents >= %s', (b->>'min_price')::int); END IF;
    IF b ? 'max_price' THEN conds := conds || format(' AND p.price_cents <= %s', (b->>'max_price')::int); END IF;
    IF coalesce((b->>'free')::boolean, false) THEN conds := conds || ' AND p.price_cents = 0'; END IF;

    col := CASE sort WHEN 'price' THEN 'p.price_cents'
                     WHEN 'experience' THEN 'p.years_experience'
                     WHEN 'rating' THEN 'p.rating_avg'
                     ELSE CASE WHEN b ? 'name' THEN format('(p.name <-> %L)', b->>'name')
                               ELSE 'p.rating_avg' END END;
    IF sort = 'price' OR (sort = 'relevance' AND b ? 'name') THEN
        dir := 'ASC';
    END IF;
    IF p_after_id IS NOT NULL THEN
        conds := conds || format(' AND (%1$s %2$s $1::%3$s OR (%1$s = $1::%3$s AND p.user_id < $2))',
                                 col, CASE dir WHEN 'ASC' THEN '>' ELSE '<' END,
                                 CASE WHEN col LIKE '(p.name%%' THEN 'float8' ELSE 'numeric' END);
    END IF;
    RETURN QUERY EXECUTE format($q$
        SELECT p.user_id, (%1$s)::text, booking_profile_json(p.user_id)
          FROM mentor_profiles p
         WHERE true %2$s
         ORDER BY %1$s %3$s, p.user_id DESC
         LIMIT $3 $q$, col, conds, dir)
    USING p_after_key, p_after_id, p_limit;
END $f$;
