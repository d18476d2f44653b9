-- 0008_search_rank: name relevance that an index can order (docs/booking.md,
-- "Names").
--
-- 0007 ordered a name search by the trigram distance of the whole name,
-- computed for every mentor matching the query words: a single common
-- word ("Hoper" -> hopper, ~3,400 of 100,000 generated mentors) cost
-- ~30 ms of heap visits and distance computations per page. Relevance is
-- now a small integer per query word, the match grade of the best
-- dictionary word the mentor has for it:
--
--   10  the word itself            "hopper" for "hopper"
--   9   a prefix or near-identical "thistlewood" for "thistle"
--   3-8 a typo, by trigram similarity rounded to tenths
--
-- summed over the query words, then rating, then id (all descending). The
-- sort key handed to cursors is grade * 10 + rating (rating < 10).
--
-- For one query word the grades are few (at most 8), so the search walks
-- them best first, one statement per grade ordered by (rating, id) — read
-- in rating-index order when the grade's mentors are many, or through the
-- GIN indexes and sorted when they are few — and stops as soon as the page
-- is full. Several query words intersect to a small set,
-- whose grades are summed per row.

-- Every name search reads the dictionary's trigram index and the
-- name-word index, and both change rarely (new words, profile saves): no
-- GIN pending list for them. With one (fastupdate, the default), a freshly
-- filled dictionary made each lookup scan ~400 pending pages (300 ms)
-- until a vacuum happened to merge them.
ALTER INDEX search_name_words_trgm SET (fastupdate = off);
ALTER INDEX mentor_profiles_name_words SET (fastupdate = off);
SELECT gin_clean_pending_list('search_name_words_trgm'::regclass),
       gin_clean_pending_list('mentor_profiles_name_words'::regclass);

-- About how many mentors have any of these name words, from PostgreSQL's
-- own statistics (the most common elements ANALYZE keeps for
-- mentor_profiles.name_words, refreshed by autovacuum after bulk changes).
-- A word not among them is rare: it counts as none. Used only to choose
-- how booking_search reads a grade, never to decide what it finds.
-- (PL/pgSQL, not SQL: its plan over the pg_stats view is kept per session
-- instead of being planned again on every call, which cost ~3 ms.)
CREATE FUNCTION search_words_estimate(words text[]) RETURNS numeric LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT coalesce(sum(f.freq), 0)
                   * (SELECT greatest(c.reltuples, 0) FROM pg_class c WHERE c.oid = 'mentor_profiles'::regclass)
              FROM pg_stats s, unnest(s.most_common_elems::text::text[], s.most_common_elem_freqs) f(word, freq)
             WHERE s.schemaname = current_schema() AND s.tablename = 'mentor_profiles'
               AND s.attname = 'name_words' AND f.word = ANY (words));
END $$;

-- Dictionary words close to one query word with their grade, best first (at most 50; same thresholds as 0007's
-- search_word_candidates). A word of digits only matches itself: "12346"
-- is not a typo of "12345", and trigram lookups of numbers visit
-- thousands of dictionary words.
CREATE FUNCTION search_word_grades(w text)
RETURNS TABLE (word text, grade integer) LANGUAGE sql STABLE
SET pg_trgm.similarity_threshold = 0.3 SET pg_trgm.word_similarity_threshold = 0.6 AS $$
    SELECT c.word, CASE WHEN c.exact THEN 10 ELSE least(9, greatest(3, round(c.q * 10)::integer)) END
      FROM (SELECT d.word, true AS exact, 1.0::real AS q
              FROM search_name_words d WHERE d.word = w
            UNION ALL
            SELECT d.word, false, greatest(similarity(d.word, w), word_similarity(w, d.word))
              FROM search_name_words d
             WHERE w !~ '^[0-9]+$' AND (d.word % w OR w <% d.word) AND d.word <> w
             ORDER BY 2 DESC, 3 DESC, 1
             LIMIT 50) c
     ORDER BY c.exact DESC, c.q DESC, c.word
$$;

-- The planner's row estimate for a query (EXPLAIN is refused inside a
-- STABLE function such as booking_search, hence VOLATILE).
CREATE FUNCTION search_estimate_rows(q text) RETURNS numeric LANGUAGE plpgsql VOLATILE AS $$
DECLARE plan jsonb;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
    RETURN (plan->0->'Plan'->>'Plan Rows')::numeric;
END $$;
-- It runs the text it is given: only its owner (the daemon's role, which
-- runs the migrations) may call it.
REVOKE EXECUTE ON FUNCTION search_estimate_rows(text) FROM PUBLIC;

-- The WHERE conditions for every filter but the name, as SQL text over
-- mentor_profiles p (only the filters present, so that each statement is
-- planned for them). Bad availability ranges raise MB400.
--   available: a free day in range with a start in [from, to) still
--              bookable now (schema/0007_search.sql)
CREATE FUNCTION search_filter_conds(b jsonb) RETURNS text LANGUAGE plpgsql STABLE AS $f$
DECLARE
    conds text := '';
    a_from timestamptz;
    a_to timestamptz;
BEGIN
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
    RETURN conds;
END $f$;

-- The search (replaces 0007's). Only the filters present are in the WHERE
-- clause, so each plan is built for them.
CREATE OR REPLACE FUNCTION booking_search(b jsonb, p_limit integer, p_after_key text,
                                          p_after_id bigint)
RETURNS TABLE (id bigint, sort_key text, item jsonb) LANGUAGE plpgsql STABLE AS $f$
DECLARE
    sort text := coalesce(b->>'sort', 'relevance');
    col text;
    dir text := 'DESC';
    w text;
    cw text[];
    cg integer[];
    n integer := 0;
    grade_sum text := '';
    name_conds text := '';
    conds text := '';
    after_grade integer;
    after_rating numeric;
    grade integer;
    cw_g text[];
    est numeric;
    higher text[] := '{}';
    got bigint := 0;
    cnt bigint;
BEGIN
    IF b ? 'name' THEN
        FOREACH w IN ARRAY search_words(b->>'name') LOOP
            n := n + 1;
            EXIT WHEN n > 6;
            SELECT coalesce(array_agg(x.word), '{}'), coalesce(array_agg(x.grade), '{}')
              INTO cw, cg FROM search_word_grades(w) x;
            IF cardinality(cw) = 0 THEN
                RETURN;   -- a word that resembles no name: nobody
            END IF;
            name_conds := name_conds || format(' AND p.name_words && %L::text[]', cw);
            grade_sum := grade_sum || format(' + (SELECT max(x.g) FROM unnest(%L::text[], %L::int[]) x(w, g)'
                                             ' WHERE x.w = ANY (p.name_words))', cw, cg);
        END LOOP;
        IF n = 0 THEN
            RETURN;
        END IF;
    END IF;
    conds := search_filter_conds(b);

    -- One query word, by relevance: grade by grade, best first. Every
    -- mentor of a grade has the same grade for the word (the higher
    -- grades' words excluded), so within a grade the order is the rating
    -- index's. Which index to read is decided here, not by the planner: a
    -- grade of at most ~1,000 matching mentors is fetched through the GIN
    -- indexes and sorted (the "+ 0" hides the rating index); a larger one
    -- is read in rating order. The planner gets both cases wrong: it
    -- cannot estimate a list of rare words (it guesses ~0.5 % per word and
    -- then walks the whole rating index for three mentors), and for a
    -- common word with another filter (hopper + skill, ~400 mentors) it
    -- prefers walking 5,000 rows of the rating index to a bitmap. The size
    -- of the grade comes from the statistics' common words (a rare word
    -- counts as none); with other filters, the planner's row estimate for
    -- the whole condition (EXPLAIN: good at these filters once the grade is
    -- made of common words) decides.
    IF sort = 'relevance' AND n = 1 THEN
        IF p_after_id IS NOT NULL THEN
            after_grade := floor(p_after_key::numeric / 10);
            after_rating := p_after_key::numeric - after_grade * 10;
        END IF;
        FOR grade IN SELECT DISTINCT x FROM unnest(cg) x ORDER BY x DESC LOOP
            cw_g := ARRAY(SELECT x.w FROM unnest(cw, cg) x(w, gr) WHERE x.gr = grade);
            IF after_grade IS NULL OR grade <= after_grade THEN
                est := search_words_estimate(cw_g);
                IF est > 1000 AND conds <> '' THEN
                    est := search_estimate_rows(format('SELECT 1 FROM mentor_profiles p'
                                                       ' WHERE p.name_words && %L::text[] %s', cw_g, conds));
                END IF;
                RETURN QUERY EXECUTE format($q$
                    SELECT p.user_id, (%1$s * 10 + p.rating_avg)::text, booking_profile_json(p.user_id)
                      FROM mentor_profiles p
                     WHERE p.name_words && %2$L::text[] AND NOT p.name_words && %3$L::text[] %4$s %5$s
                     ORDER BY p.rating_avg %6$s DESC, p.user_id DESC
                     LIMIT $3 $q$, grade, cw_g, higher, conds,
                    CASE WHEN grade = after_grade THEN ' AND (p.rating_avg, p.user_id) < ($1, $2)' ELSE '' END,
                    CASE WHEN est <= 1000 THEN '+ 0' ELSE '' END)
                USING after_rating, p_after_id, p_limit - got;
                GET DIAGNOSTICS cnt = ROW_COUNT;
                got := got + cnt;
                EXIT WHEN got >= p_limit;
            END IF;
            higher := higher || cw_g;
        END LOOP;
        RETURN;
    END IF;

    col := CASE sort WHEN 'price' THEN 'p.price_cents'
                     WHEN 'experience' THEN 'p.years_experience'
                     WHEN 'rating' THEN 'p.rating_avg'
                     ELSE CASE WHEN n > 0 THEN format('((0%s) * 10 + p.rating_avg)', grade_sum)
                               ELSE 'p.rating_avg' END END;
    IF sort = 'price' THEN
        dir := 'ASC';
    END IF;
    IF p_after_id IS NOT NULL THEN
        conds := conds || format(' AND (%1$s %2$s $1::numeric OR (%1$s = $1::numeric AND p.user_id < $2))',
                                 col, CASE dir WHEN 'ASC' THEN '>' ELSE '<' END);
    END IF;
    RETURN QUERY EXECUTE format($q$
        SELECT p.user_id, (%1$s)::text, booking_profile_json(p.user_id)
          FROM mentor_profiles p
         WHERE true %2$s %3$s
         ORDER BY %1$s %4$s, p.user_id DESC
         LIMIT $3 $q$, col, name_conds, conds, dir)
    USING p_after_key, p_after_id, p_limit;
END $f$;
