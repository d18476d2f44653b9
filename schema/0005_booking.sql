-- 0005_booking: mentors, availability, slots, bookings, sessions, reviews
-- and in-app notifications (docs/booking.md).
--
-- The rules that protect seats live here, not in C:
--   * sessions.occupied (the session's time range widened by the session
--     type's buffers) is covered by an exclusion constraint per mentor, so
--     two live sessions of one mentor can never overlap, whatever the
--     concurrency;
--   * sessions.seats_taken is kept by a trigger on bookings and bounded by
--     CHECK (seats_taken <= capacity), so a group session never oversells;
--   * time-zone arithmetic (weekly rules in the mentor's zone, DST) is done
--     by PostgreSQL: generate_series over local dates + AT TIME ZONE.
-- Business errors are raised with SQLSTATE 'MB' + HTTP status digits
-- (MB400, MB403, MB404, MB409, MB422); control/booking_db.c maps them.

-- pg_timezone_names reads the zone files on every scan (tens of ms), so
-- the names are copied once into a table; a name missing there (tzdata
-- updated after the migration) falls back to the view.
CREATE TABLE booking_time_zones (name text PRIMARY KEY);
INSERT INTO booking_time_zones SELECT DISTINCT name FROM pg_timezone_names;

CREATE FUNCTION booking_tz_valid(tz text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT tz IS NOT NULL AND (EXISTS (SELECT 1 FROM booking_time_zones WHERE name = tz)
                               OR EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = tz))
$$;

CREATE TABLE mentor_profiles (
    user_id           bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    headline          text NOT NULL DEFAULT '' CHECK (length(headline) <= 200),
    bio               text NOT NULL DEFAULT '' CHECK (length(bio) <= 5000),
    skills            text[] NOT NULL DEFAULT '{}',
    tags              text[] NOT NULL DEFAULT '{}',
    topics            text[] NOT NULL DEFAULT '{}',
    languages         text[] NOT NULL DEFAULT '{}',
    years_experience  integer NOT NULL DEFAULT 0 CHECK (years_experience BETWEEN 0 AND 80),
    time_zone         text NOT NULL,
    price_cents       integer NOT NULL DEFAULT 0 CHECK (price_cents >= 0),
    currency          text NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
    rating_avg        numeric(3, 2) NOT NULL DEFAULT 0,
    rating_count      integer NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mentor_profiles_skills ON mentor_profiles USING gin (skills);
CREATE INDEX mentor_profiles_tags ON mentor_profiles USING gin (tags);
CREATE INDEX mentor_profiles_topics ON mentor_profiles USING gin (topics);
-- GIN trigram for the % filter (measured faster than GiST KNN at 100k
-- names: the candidates are then ordered by distance).
CREATE INDEX mentor_profiles_name_trgm ON mentor_profiles USING gin (name gin_trgm_ops);
CREATE INDEX mentor_profiles_rating ON mentor_profiles (rating_avg DESC, user_id DESC);
CREATE INDEX mentor_profiles_price ON mentor_profiles (price_cents, user_id DESC);
CREATE INDEX mentor_profiles_experience ON mentor_profiles (years_experience DESC, user_id DESC);

-- A CHECK cannot read pg_timezone_names; a trigger can.
CREATE FUNCTION booking_check_tz() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT booking_tz_valid(NEW.time_zone) THEN
        RAISE EXCEPTION 'unknown time zone %', NEW.time_zone USING ERRCODE = 'MB422';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER mentor_profiles_tz BEFORE INSERT OR UPDATE OF time_zone ON mentor_profiles
    FOR EACH ROW EXECUTE FUNCTION booking_check_tz();

CREATE TABLE session_types (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mentor_id          bigint NOT NULL REFERENCES mentor_profiles (user_id) ON DELETE CASCADE,
    title              text NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
    duration_min       integer NOT NULL CHECK (duration_min BETWEEN 5 AND 480),
    buffer_before_min  integer NOT NULL DEFAULT 0 CHECK (buffer_before_min BETWEEN 0 AND 240),
    buffer_after_min   integer NOT NULL DEFAULT 0 CHECK (buffer_after_min BETWEEN 0 AND 240),
    min_notice_min     integer NOT NULL DEFAULT 0 CHECK (min_notice_min BETWEEN 0 AND 43200),
    horizon_days       integer NOT NULL DEFAULT 60 CHECK (horizon_days BETWEEN 1 AND 365),
    capacity           integer NOT NULL DEFAULT 1 CHECK (capacity BETWEEN 1 AND 1000),
    price_cents        integer NOT NULL DEFAULT 0 CHECK (price_cents >= 0),
    recorded           boolean NOT NULL DEFAULT false,
    active             boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_types_mentor ON session_types (mentor_id) WHERE active;

-- Weekly rules in the mentor's zone: ISO weekday (1 = Monday) and local
-- wall-clock times. Overlapping rules of one weekday are refused.
CREATE TABLE availability_rules (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mentor_id   bigint NOT NULL REFERENCES mentor_profiles (user_id) ON DELETE CASCADE,
    weekday     integer NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    start_time  time NOT NULL,
    end_time    time NOT NULL,
    CHECK (end_time > start_time),
    CONSTRAINT availability_rules_no_overlap EXCLUDE USING gist (
        mentor_id WITH =, weekday WITH =,
        tsrange(DATE '2000-01-01' + start_time, DATE '2000-01-01' + end_time) WITH &&)
);

-- A date override replaces the weekly rules of that local date: windows
-- with times, or one row with NULL times meaning "not available that day".
CREATE TABLE availability_overrides (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mentor_id   bigint NOT NULL REFERENCES mentor_profiles (user_id) ON DELETE CASCADE,
    day         date NOT NULL,
    start_time  time,
    end_time    time,
    CHECK ((start_time IS NULL AND end_time IS NULL) OR end_time > start_time),
    CONSTRAINT availability_overrides_no_overlap EXCLUDE USING gist (
        mentor_id WITH =, day WITH =,
        tsrange(DATE '2000-01-01' + coalesce(start_time, '00:00'),
                DATE '2000-01-01' + coalesce(end_time, '24:00')) WITH &&)
);

CREATE TABLE availability_blackouts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mentor_id  bigint NOT NULL REFERENCES mentor_profiles (user_id) ON DELETE CASCADE,
    during     tstzrange NOT NULL CHECK (NOT isempty(during) AND NOT lower_inf(during) AND NOT upper_inf(during))
);
CREATE INDEX availability_blackouts_during ON availability_blackouts USING gist (mentor_id, during);

-- One occurrence on the mentor's calendar: a 1:1 meeting or a group
-- session with capacity seats.
CREATE TABLE sessions (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mentor_id        bigint NOT NULL REFERENCES mentor_profiles (user_id) ON DELETE CASCADE,
    session_type_id  bigint NOT NULL REFERENCES session_types (id),
    starts_at        timestamptz NOT NULL,
    ends_at          timestamptz NOT NULL CHECK (ends_at > starts_at),
    occupied         tstzrange NOT NULL,   -- [starts_at - buffer_before, ends_at + buffer_after)
    capacity         integer NOT NULL CHECK (capacity >= 1),
    seats_taken      integer NOT NULL DEFAULT 0,
    status           text NOT NULL DEFAULT 'scheduled'
                     CHECK (status IN ('scheduled', 'live', 'ended', 'cancelled')),
    live_at          timestamptz,
    ended_at         timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sessions_seats CHECK (seats_taken >= 0 AND seats_taken <= capacity),
    CONSTRAINT sessions_no_overlap EXCLUDE USING gist (mentor_id WITH =, occupied WITH &&)
        WHERE (status IN ('scheduled', 'live'))
);
CREATE UNIQUE INDEX sessions_slot ON sessions (session_type_id, starts_at)
    WHERE status IN ('scheduled', 'live');
CREATE INDEX sessions_mentor_time ON sessions USING gist (mentor_id, occupied);

CREATE TABLE bookings (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id       bigint NOT NULL REFERENCES sessions (id),
    mentee_id        bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status           text NOT NULL
                     CHECK (status IN ('held', 'confirmed', 'cancelled', 'expired', 'rescheduled')),
    expires_at       timestamptz,          -- holds only
    price_cents      integer NOT NULL DEFAULT 0,
    agenda           text NOT NULL DEFAULT '' CHECK (length(agenda) <= 5000),
    cancelled_by     text CHECK (cancelled_by IN ('mentee', 'mentor', 'system')),
    cancelled_at     timestamptz,
    refund           text CHECK (refund IN ('full', 'none', 'not_applicable')),
    rescheduled_to   bigint REFERENCES bookings (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    confirmed_at     timestamptz,
    CHECK (status <> 'held' OR expires_at IS NOT NULL)
);
CREATE UNIQUE INDEX bookings_one_seat ON bookings (session_id, mentee_id)
    WHERE status IN ('held', 'confirmed');
CREATE INDEX bookings_mentee ON bookings (mentee_id, id);
CREATE INDEX bookings_held ON bookings (expires_at) WHERE status = 'held';

-- Seats follow bookings: +1 when a booking becomes held/confirmed, -1 when
-- it leaves; a scheduled session with no seat left is cancelled, which
-- frees its time range. The CHECK on sessions refuses the extra seat.
CREATE FUNCTION booking_seats() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    was boolean := TG_OP = 'UPDATE' AND OLD.status IN ('held', 'confirmed');
    now_ boolean := NEW.status IN ('held', 'confirmed');
BEGIN
    IF now_ AND NOT was THEN
        UPDATE sessions SET seats_taken = seats_taken + 1 WHERE id = NEW.session_id;
    ELSIF was AND NOT now_ THEN
        UPDATE sessions SET seats_taken = seats_taken - 1,
               status = CASE WHEN seats_taken = 1 AND status = 'scheduled' THEN 'cancelled' ELSE status END
         WHERE id = NEW.session_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER bookings_seats AFTER INSERT OR UPDATE OF status ON bookings
    FOR EACH ROW EXECUTE FUNCTION booking_seats();

CREATE TABLE reviews (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id    bigint NOT NULL UNIQUE REFERENCES bookings (id),
    mentor_id     bigint NOT NULL REFERENCES mentor_profiles (user_id) ON DELETE CASCADE,
    mentee_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rating        integer NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body          text NOT NULL DEFAULT '' CHECK (length(body) <= 5000),
    mentor_reply  text CHECK (length(mentor_reply) <= 5000),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX reviews_mentor ON reviews (mentor_id, id DESC);

CREATE FUNCTION booking_rating() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE m bigint := coalesce(NEW.mentor_id, OLD.mentor_id);
BEGIN
    UPDATE mentor_profiles p SET rating_count = s.n, rating_avg = coalesce(s.a, 0)
      FROM (SELECT count(*) AS n, round(avg(rating), 2) AS a FROM reviews WHERE mentor_id = m) s
     WHERE p.user_id = m;
    RETURN NULL;
END $$;
CREATE TRIGGER reviews_rating AFTER INSERT OR DELETE OR UPDATE OF rating ON reviews
    FOR EACH ROW EXECUTE FUNCTION booking_rating();

CREATE TABLE notifications (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    booking_id  bigint REFERENCES bookings (id),
    body        jsonb NOT NULL DEFAULT '{}',
    read_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, kind, booking_id)
);

-- Candidate slot starts of a session type in [from, to): weekly rules or
-- that date's overrides, in the mentor's zone, minus blackouts, notice and
-- horizon. Occupancy is not considered (see booking_slots). Local times
-- that do not exist (spring forward) are skipped; a window is cut into
-- duration-long slots in wall-clock time, each converted with AT TIME ZONE.
CREATE FUNCTION booking_candidates(p_type bigint, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (starts_at timestamptz, ends_at timestamptz, occupied tstzrange)
LANGUAGE sql STABLE AS $$
    WITH t AS (
        SELECT st.*, mp.time_zone AS tz FROM session_types st
          JOIN mentor_profiles mp ON mp.user_id = st.mentor_id
         WHERE st.id = p_type AND st.active
    ), days AS (
        SELECT d::date AS day, t.* FROM t,
               generate_series(((p_from AT TIME ZONE t.tz)::date - 1)::timestamp,
                               ((p_to AT TIME ZONE t.tz)::date + 1)::timestamp,
                               interval '1 day') AS d
    ), windows AS (
        SELECT days.*, o.start_time AS ws, o.end_time AS we FROM days
          JOIN availability_overrides o ON o.mentor_id = days.mentor_id AND o.day = days.day
         WHERE o.start_time IS NOT NULL
        UNION ALL
        SELECT days.*, r.start_time, r.end_time FROM days
          JOIN availability_rules r ON r.mentor_id = days.mentor_id
                                   AND r.weekday = extract(isodow FROM days.day)
         WHERE NOT EXISTS (SELECT 1 FROM availability_overrides o
                            WHERE o.mentor_id = days.mentor_id AND o.day = days.day)
    ), local_slots AS (
        SELECT w.*, ls AS local_start FROM windows w,
               generate_series(w.day + w.ws, w.day + w.we - make_interval(mins => w.duration_min),
                               make_interval(mins => w.duration_min)) AS ls
    ), slots AS (
        SELECT s.*, (s.local_start AT TIME ZONE s.tz) AS st_at,
               ((s.day + s.we) AT TIME ZONE s.tz) AS window_end
          FROM local_slots s
    )
    SELECT s.st_at, s.st_at + make_interval(mins => s.duration_min),
           tstzrange(s.st_at - make_interval(mins => s.buffer_before_min),
                     s.st_at + make_interval(mins => s.duration_min + s.buffer_after_min))
      FROM slots s
     WHERE (s.st_at AT TIME ZONE s.tz) = s.local_start             -- exists locally
       AND s.st_at + make_interval(mins => s.duration_min) <= s.window_end
       AND s.st_at >= p_from AND s.st_at < p_to
       AND s.st_at >= now() + make_interval(mins => s.min_notice_min)
       AND s.st_at < now() + make_interval(days => s.horizon_days)
       AND NOT EXISTS (SELECT 1 FROM availability_blackouts b
                        WHERE b.mentor_id = s.mentor_id
                          AND b.during && tstzrange(s.st_at, s.st_at + make_interval(mins => s.duration_min)))
     ORDER BY 1
$$;

-- Free holds whose checkout time passed (lazily before each booking, and
-- by the booking.expire_holds job). Returns how many were released.
CREATE FUNCTION booking_release_expired() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
    UPDATE bookings SET status = 'expired', cancelled_by = 'system', cancelled_at = now()
     WHERE status = 'held' AND expires_at <= now();
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Bookable slots: candidates minus the mentor's occupied time, plus open
-- seats of existing group sessions of this type.
CREATE FUNCTION booking_slots(p_type bigint, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (starts_at timestamptz, ends_at timestamptz, seats_left integer)
LANGUAGE sql STABLE AS $$
    SELECT c.starts_at, c.ends_at,
           coalesce(own.capacity - own.seats_taken, st.capacity)
      FROM booking_candidates(p_type, p_from, p_to) c
      JOIN session_types st ON st.id = p_type
      LEFT JOIN sessions own ON own.session_type_id = p_type AND own.starts_at = c.starts_at
                            AND own.status IN ('scheduled', 'live')
     WHERE (own.id IS NOT NULL AND own.seats_taken < own.capacity AND own.status = 'scheduled')
        OR (own.id IS NULL AND NOT EXISTS (
                SELECT 1 FROM sessions o WHERE o.mentor_id = st.mentor_id
                   AND o.status IN ('scheduled', 'live') AND o.occupied && c.occupied))
     ORDER BY 1
$$;

-- Take one seat for p_mentee at p_start of a session type. A 1:1 slot or
-- the first seat of a group slot creates the session (the exclusion
-- constraint refuses an overlap); later seats join it (the seats CHECK
-- refuses the one too many). Priced types are held for p_hold_min minutes,
-- free ones are confirmed at once. Returns the booking id.
CREATE FUNCTION booking_take_seat(p_mentee bigint, p_type bigint, p_start timestamptz,
                                  p_hold_min integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    st session_types;
    c record;
    sid bigint;
    bid bigint;
BEGIN
    PERFORM booking_release_expired();
    SELECT * INTO st FROM session_types WHERE id = p_type AND active;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such session type' USING ERRCODE = 'MB404';
    END IF;
    IF st.mentor_id = p_mentee THEN
        RAISE EXCEPTION 'a mentor cannot book their own session' USING ERRCODE = 'MB422';
    END IF;
    IF p_start <= now() THEN
        RAISE EXCEPTION 'start is in the past' USING ERRCODE = 'MB422';
    END IF;
    SELECT * INTO c FROM booking_candidates(p_type, p_start, p_start + interval '1 second');
    IF NOT FOUND OR c.starts_at <> p_start THEN
        RAISE EXCEPTION 'start is not a bookable slot of this session type' USING ERRCODE = 'MB422';
    END IF;
    FOR attempt IN 1..3 LOOP
        SELECT id INTO sid FROM sessions
         WHERE session_type_id = p_type AND starts_at = p_start AND status = 'scheduled';
        IF sid IS NULL THEN
            BEGIN
                INSERT INTO sessions (mentor_id, session_type_id, starts_at, ends_at, occupied, capacity)
                VALUES (st.mentor_id, p_type, p_start, c.ends_at, c.occupied, st.capacity)
                RETURNING id INTO sid;
            EXCEPTION WHEN exclusion_violation OR unique_violation THEN
                sid := NULL;   -- someone else got there: look again
            END;
        END IF;
        IF sid IS NOT NULL THEN
            BEGIN
                INSERT INTO bookings (session_id, mentee_id, status, expires_at, price_cents, confirmed_at)
                VALUES (sid, p_mentee,
                        CASE WHEN st.price_cents > 0 THEN 'held' ELSE 'confirmed' END,
                        CASE WHEN st.price_cents > 0 THEN now() + make_interval(mins => p_hold_min) END,
                        st.price_cents,
                        CASE WHEN st.price_cents > 0 THEN NULL ELSE now() END)
                RETURNING id INTO bid;
                RETURN bid;
            EXCEPTION
                WHEN check_violation THEN
                    RAISE EXCEPTION 'this slot is full' USING ERRCODE = 'MB409';
                WHEN unique_violation THEN
                    RAISE EXCEPTION 'you already hold a seat in this session' USING ERRCODE = 'MB409';
            END;
        END IF;
        -- No scheduled session of this type at p_start: the overlap is
        -- another session, or a session that was just cancelled; retry once.
        IF EXISTS (SELECT 1 FROM sessions o WHERE o.mentor_id = st.mentor_id
                      AND o.status IN ('scheduled', 'live') AND o.occupied && c.occupied
                      AND NOT (o.session_type_id = p_type AND o.starts_at = p_start)) THEN
            RAISE EXCEPTION 'the mentor is not free at that time' USING ERRCODE = 'MB409';
        END IF;
    END LOOP;
    RAISE EXCEPTION 'the slot was taken meanwhile' USING ERRCODE = 'MB409';
END $$;

-- Confirm a held booking once payment succeeded (payments call this via
-- ctl_booking_confirm_on_payment). An expired hold cannot be confirmed.
CREATE FUNCTION booking_confirm(p_booking bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE b bookings;
BEGIN
    SELECT * INTO b FROM bookings WHERE id = p_booking FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such booking' USING ERRCODE = 'MB404';
    END IF;
    IF b.status = 'confirmed' THEN
        RETURN;
    END IF;
    IF b.status <> 'held' OR b.expires_at <= now() THEN
        RAISE EXCEPTION 'the hold expired' USING ERRCODE = 'MB409';
    END IF;
    UPDATE bookings SET status = 'confirmed', confirmed_at = now(), expires_at = NULL
     WHERE id = p_booking;
END $$;

-- ---------------------------------------------------------------------
-- JSON entry points for the REST handlers (control/*_routes.c). Each
-- takes the caller and a validated body and returns the answer as jsonb.

CREATE FUNCTION booking_iso(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

-- t as local time in zone tz with its offset: 2027-03-28T02:00:00+01:00.
CREATE FUNCTION booking_local(t timestamptz, tz text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char(t AT TIME ZONE tz, 'YYYY-MM-DD"T"HH24:MI:SS') ||
           CASE WHEN off < interval '0' THEN '-' ELSE '+' END ||
           to_char(abs(extract(epoch FROM off))::int / 3600, 'FM00') || ':' ||
           to_char(abs(extract(epoch FROM off))::int % 3600 / 60, 'FM00')
      FROM (SELECT (t AT TIME ZONE tz) - (t AT TIME ZONE 'UTC') AS off) o
$$;

CREATE FUNCTION booking_text_array(j jsonb) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(array_agg(lower(btrim(x)) ORDER BY x), '{}')
      FROM jsonb_array_elements_text(coalesce(j, '[]')) x WHERE btrim(x) <> ''
$$;

CREATE FUNCTION booking_profile_json(p_user bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', user_id, 'name', name, 'headline', headline, 'bio', bio,
           'skills', to_jsonb(skills), 'tags', to_jsonb(tags), 'topics', to_jsonb(topics),
           'languages', to_jsonb(languages), 'years_experience', years_experience,
           'time_zone', time_zone, 'price_cents', price_cents, 'currency', currency,
           'free', price_cents = 0, 'rating_avg', rating_avg, 'rating_count', rating_count)
      FROM mentor_profiles WHERE user_id = p_user
$$;

CREATE FUNCTION booking_put_profile(p_user bigint, b jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO mentor_profiles AS p (user_id, name, headline, bio, skills, tags, topics, languages,
                                      years_experience, time_zone, price_cents, currency)
    VALUES (p_user, b->>'name', coalesce(b->>'headline', ''), coalesce(b->>'bio', ''),
            booking_text_array(b->'skills'), booking_text_array(b->'tags'),
            booking_text_array(b->'topics'), booking_text_array(b->'languages'),
            coalesce((b->>'years_experience')::int, 0), b->>'time_zone',
            coalesce((b->>'price_cents')::int, 0), coalesce(b->>'currency', 'EUR'))
    ON CONFLICT (user_id) DO UPDATE SET
        name = EXCLUDED.name, headline = EXCLUDED.headline, bio = EXCLUDED.bio,
        skills = EXCLUDED.skills, tags = EXCLUDED.tags, topics = EXCLUDED.topics,
        languages = EXCLUDED.languages, years_experience = EXCLUDED.years_experience,
        time_zone = EXCLUDED.time_zone, price_cents = EXCLUDED.price_cents,
        currency = EXCLUDED.currency, updated_at = now();
    RETURN booking_profile_json(p_user);
END $$;

CREATE FUNCTION booking_availability_json(p_user bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
      'time_zone', (SELECT time_zone FROM mentor_profiles WHERE user_id = p_user),
      'rules', coalesce((SELECT jsonb_agg(jsonb_build_object('weekday', weekday,
                 'start', to_char(start_time, 'HH24:MI'), 'end', to_char(end_time, 'HH24:MI'))
                 ORDER BY weekday, start_time) FROM availability_rules WHERE mentor_id = p_user), '[]'),
      'overrides', coalesce((SELECT jsonb_agg(jsonb_build_object('date', day,
                 'start', to_char(start_time, 'HH24:MI'), 'end', to_char(end_time, 'HH24:MI'))
                 ORDER BY day, start_time) FROM availability_overrides WHERE mentor_id = p_user), '[]'),
      'blackouts', coalesce((SELECT jsonb_agg(jsonb_build_object('start', booking_iso(lower(during)),
                 'end', booking_iso(upper(during))) ORDER BY lower(during))
                 FROM availability_blackouts WHERE mentor_id = p_user), '[]'))
$$;

-- Replace the mentor's weekly rules, overrides and blackouts in one go.
CREATE FUNCTION booking_put_availability(p_user bigint, b jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE x jsonb;
BEGIN
    PERFORM 1 FROM mentor_profiles WHERE user_id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'create your mentor profile first' USING ERRCODE = 'MB409';
    END IF;
    DELETE FROM availability_rules WHERE mentor_id = p_user;
    DELETE FROM availability_overrides WHERE mentor_id = p_user;
    DELETE FROM availability_blackouts WHERE mentor_id = p_user;
    FOR x IN SELECT * FROM jsonb_array_elements(coalesce(b->'rules', '[]')) LOOP
        INSERT INTO availability_rules (mentor_id, weekday, start_time, end_time)
        VALUES (p_user, (x->>'weekday')::int, (x->>'start')::time, (x->>'end')::time);
    END LOOP;
    FOR x IN SELECT * FROM jsonb_array_elements(coalesce(b->'overrides', '[]')) LOOP
        INSERT INTO availability_overrides (mentor_id, day, start_time, end_time)
        VALUES (p_user, (x->>'date')::date, (x->>'start')::time, (x->>'end')::time);
    END LOOP;
    FOR x IN SELECT * FROM jsonb_array_elements(coalesce(b->'blackouts', '[]')) LOOP
        INSERT INTO availability_blackouts (mentor_id, during)
        VALUES (p_user, tstzrange((x->>'start')::timestamptz, (x->>'end')::timestamptz));
    END LOOP;
    RETURN booking_availability_json(p_user);
END $$;

CREATE FUNCTION booking_type_json(t session_types) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('id', t.id, 'mentor_id', t.mentor_id, 'title', t.title,
           'duration_min', t.duration_min, 'buffer_before_min', t.buffer_before_min,
           'buffer_after_min', t.buffer_after_min, 'min_notice_min', t.min_notice_min,
           'horizon_days', t.horizon_days, 'capacity', t.capacity, 'price_cents', t.price_cents,
           'recorded', t.recorded, 'active', t.active)
$$;

CREATE FUNCTION booking_create_type(p_user bigint, b jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE t session_types;
BEGIN
    PERFORM 1 FROM mentor_profiles WHERE user_id = p_user;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'create your mentor profile first' USING ERRCODE = 'MB409';
    END IF;
    INSERT INTO session_types (mentor_id, title, duration_min, buffer_before_min, buffer_after_min,
                               min_notice_min, horizon_days, capacity, price_cents, recorded)
    VALUES (p_user, b->>'title', (b->>'duration_min')::int,
            coalesce((b->>'buffer_before_min')::int, 0), coalesce((b->>'buffer_after_min')::int, 0),
            coalesce((b->>'min_notice_min')::int, 0), coalesce((b->>'horizon_days')::int, 60),
            coalesce((b->>'capacity')::int, 1), coalesce((b->>'price_cents')::int, 0),
            coalesce((b->>'recorded')::boolean, false))
    RETURNING * INTO t;
    RETURN booking_type_json(t);
END $$;

CREATE FUNCTION booking_list_types(p_mentor bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(booking_type_json(t) ORDER BY t.id), '[]')
      FROM session_types t WHERE t.mentor_id = p_mentor AND t.active
$$;

CREATE FUNCTION booking_slots_json(p_type bigint, p_from timestamptz, p_to timestamptz, p_tz text)
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF NOT booking_tz_valid(p_tz) THEN
        RAISE EXCEPTION 'unknown time zone %', p_tz USING ERRCODE = 'MB422';
    END IF;
    IF p_to <= p_from THEN
        RAISE EXCEPTION 'to must be after from' USING ERRCODE = 'MB422';
    END IF;
    IF p_to - p_from > interval '62 days' THEN
        RAISE EXCEPTION 'at most 62 days per request' USING ERRCODE = 'MB422';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM session_types WHERE id = p_type AND active) THEN
        RAISE EXCEPTION 'no such session type' USING ERRCODE = 'MB404';
    END IF;
    RETURN jsonb_build_object('time_zone', p_tz, 'slots', coalesce((
        SELECT jsonb_agg(jsonb_build_object('start', booking_iso(s.starts_at),
                         'end', booking_iso(s.ends_at),
                         'start_local', booking_local(s.starts_at, p_tz),
                         'end_local', booking_local(s.ends_at, p_tz),
                         'seats_left', s.seats_left) ORDER BY s.starts_at)
          FROM booking_slots(p_type, p_from, p_to) s), '[]'));
END $$;

-- A booking as its mentee or mentor sees it; NULL when p_user is neither
-- (p_user 0: no check, for jobs).
CREATE FUNCTION booking_json(p_booking bigint, p_user bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', b.id, 'status', b.status, 'session_id', s.id,
           'session_status', s.status, 'session_type_id', s.session_type_id, 'title', t.title,
           'mentor_id', s.mentor_id, 'mentor_name', mp.name, 'mentor_email', mu.email::text,
           'mentee_id', b.mentee_id, 'mentee_name', u.name, 'mentee_email', u.email::text,
           'start', booking_iso(s.starts_at), 'end', booking_iso(s.ends_at),
           'seconds_to_start', extract(epoch FROM s.starts_at - now())::bigint,
           'expires_at', booking_iso(b.expires_at), 'price_cents', b.price_cents,
           'agenda', b.agenda, 'cancelled_by', b.cancelled_by, 'refund', b.refund,
           'rescheduled_to', b.rescheduled_to, 'capacity', s.capacity,
           'seats_taken', s.seats_taken)
      FROM bookings b JOIN sessions s ON s.id = b.session_id
      JOIN session_types t ON t.id = s.session_type_id
      JOIN mentor_profiles mp ON mp.user_id = s.mentor_id
      JOIN users mu ON mu.id = s.mentor_id
      JOIN users u ON u.id = b.mentee_id
     WHERE b.id = p_booking AND (p_user = 0 OR p_user IN (b.mentee_id, s.mentor_id))
$$;

-- Lock a booking for a change by p_user; returns who they are to it.
CREATE FUNCTION booking_lock(p_booking bigint, p_user bigint, OUT b bookings, OUT s sessions,
                             OUT who text) LANGUAGE plpgsql AS $$
BEGIN
    SELECT * INTO b FROM bookings WHERE id = p_booking FOR UPDATE;
    IF FOUND THEN
        SELECT * INTO s FROM sessions WHERE id = b.session_id FOR UPDATE;
    END IF;
    IF NOT FOUND OR p_user NOT IN (b.mentee_id, s.mentor_id) THEN
        RAISE EXCEPTION 'no such booking' USING ERRCODE = 'MB404';
    END IF;
    who := CASE WHEN p_user = s.mentor_id THEN 'mentor' ELSE 'mentee' END;
END $$;

-- Cancel. Mentee: free (full refund) up to 24 h before the start, no
-- refund after. Mentor: cancels the whole session, everyone refunded.
-- Free bookings record 'not_applicable'. Returns the ids cancelled.
CREATE FUNCTION booking_cancel(p_booking bigint, p_user bigint) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE l record; ids bigint[];
BEGIN
    l := booking_lock(p_booking, p_user);
    IF (l.b).status NOT IN ('held', 'confirmed') THEN
        RAISE EXCEPTION 'booking is already %', (l.b).status USING ERRCODE = 'MB409';
    END IF;
    IF (l.s).status <> 'scheduled' THEN
        RAISE EXCEPTION 'the session is %', (l.s).status USING ERRCODE = 'MB409';
    END IF;
    IF l.who = 'mentor' THEN
        WITH c AS (
            UPDATE bookings SET status = 'cancelled', cancelled_by = 'mentor', cancelled_at = now(),
                   refund = CASE WHEN price_cents = 0 THEN 'not_applicable' ELSE 'full' END
             WHERE session_id = (l.s).id AND status IN ('held', 'confirmed') RETURNING id)
        SELECT array_agg(id) INTO ids FROM c;
    ELSE
        UPDATE bookings SET status = 'cancelled', cancelled_by = 'mentee', cancelled_at = now(),
               refund = CASE WHEN price_cents = 0 THEN 'not_applicable'
                             WHEN (l.s).starts_at - now() >= interval '24 hours' THEN 'full'
                             ELSE 'none' END
         WHERE id = p_booking;
        ids := ARRAY[p_booking];
    END IF;
    RETURN ids;
END $$;

-- Move a mentee's booking to another start (same session type) in one
-- transaction: the new seat is taken before the old one is released is
-- not possible for the same mentor's overlapping range, so the old seat is
-- released first; any failure rolls both back (the caller's transaction).
CREATE FUNCTION booking_reschedule(p_booking bigint, p_user bigint, p_start timestamptz,
                                   p_hold_min integer) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE l record; nb bigint;
BEGIN
    l := booking_lock(p_booking, p_user);
    IF l.who <> 'mentee' THEN
        RAISE EXCEPTION 'only the mentee reschedules a booking' USING ERRCODE = 'MB403';
    END IF;
    IF (l.b).status NOT IN ('held', 'confirmed') OR (l.s).status <> 'scheduled' THEN
        RAISE EXCEPTION 'booking cannot be rescheduled now' USING ERRCODE = 'MB409';
    END IF;
    IF (l.s).starts_at - now() < interval '24 hours' THEN
        RAISE EXCEPTION 'rescheduling closes 24 hours before the start' USING ERRCODE = 'MB409';
    END IF;
    UPDATE bookings SET status = 'rescheduled', cancelled_by = 'mentee', cancelled_at = now(),
           refund = 'not_applicable' WHERE id = p_booking;
    nb := booking_take_seat(p_user, (l.s).session_type_id, p_start, p_hold_min);
    -- A paid booking that was confirmed stays paid: confirm the new seat.
    IF (l.b).status = 'confirmed' THEN
        UPDATE bookings SET status = 'confirmed', confirmed_at = now(), expires_at = NULL
         WHERE id = nb AND status = 'held';
    END IF;
    UPDATE bookings SET rescheduled_to = nb WHERE id = p_booking;
    RETURN nb;
END $$;

CREATE FUNCTION booking_set_agenda(p_booking bigint, p_user bigint, p_agenda text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE l record;
BEGIN
    l := booking_lock(p_booking, p_user);
    IF l.who <> 'mentee' THEN
        RAISE EXCEPTION 'only the mentee writes the agenda' USING ERRCODE = 'MB403';
    END IF;
    UPDATE bookings SET agenda = p_agenda WHERE id = p_booking;
    RETURN booking_json(p_booking, p_user);
END $$;

CREATE FUNCTION booking_list(p_user bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(booking_json(x.id, p_user) ORDER BY x.starts_at, x.id), '[]')
      FROM (SELECT b.id, s.starts_at FROM bookings b JOIN sessions s ON s.id = b.session_id
             WHERE (b.mentee_id = p_user OR s.mentor_id = p_user)
               AND b.status IN ('held', 'confirmed')
             ORDER BY s.starts_at DESC LIMIT 200) x
$$;

-- Session life: scheduled -> live (the mentor opens the room, from 15
-- minutes before the start) -> ended.
CREATE FUNCTION booking_session_set(p_session bigint, p_user bigint, p_to text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE s sessions;
BEGIN
    SELECT * INTO s FROM sessions WHERE id = p_session FOR UPDATE;
    IF NOT FOUND OR s.mentor_id <> p_user THEN
        RAISE EXCEPTION 'no such session' USING ERRCODE = 'MB404';
    END IF;
    IF p_to = 'live' THEN
        IF s.status <> 'scheduled' THEN
            RAISE EXCEPTION 'the session is %', s.status USING ERRCODE = 'MB409';
        END IF;
        IF now() < s.starts_at - interval '15 minutes' OR now() > s.ends_at THEN
            RAISE EXCEPTION 'the room opens 15 minutes before the start' USING ERRCODE = 'MB409';
        END IF;
        UPDATE sessions SET status = 'live', live_at = now() WHERE id = p_session;
    ELSE
        IF s.status NOT IN ('scheduled', 'live') THEN
            RAISE EXCEPTION 'the session is %', s.status USING ERRCODE = 'MB409';
        END IF;
        IF s.status = 'scheduled' AND now() < s.starts_at THEN
            RAISE EXCEPTION 'a session that has not started is cancelled, not ended' USING ERRCODE = 'MB409';
        END IF;
        UPDATE sessions SET status = 'ended', ended_at = now() WHERE id = p_session;
    END IF;
    RETURN jsonb_build_object('id', p_session, 'status', p_to);
END $$;

-- May p_user join the room now, and with which role? The mentor from 15
-- minutes before the start to 30 minutes after the end; a confirmed mentee
-- from 10 minutes before the start, and only while the session is not over.
CREATE FUNCTION booking_join_role(p_session bigint, p_user bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE s sessions;
BEGIN
    SELECT * INTO s FROM sessions WHERE id = p_session;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such session' USING ERRCODE = 'MB404';
    END IF;
    IF s.mentor_id <> p_user AND NOT EXISTS (SELECT 1 FROM bookings WHERE session_id = p_session
                       AND mentee_id = p_user AND status = 'confirmed') THEN
        RAISE EXCEPTION 'you are not booked on this session' USING ERRCODE = 'MB403';
    END IF;
    IF s.status NOT IN ('scheduled', 'live') THEN
        RAISE EXCEPTION 'the session is %', s.status USING ERRCODE = 'MB409';
    END IF;
    IF s.mentor_id = p_user THEN
        IF now() < s.starts_at - interval '15 minutes' OR now() > s.ends_at + interval '30 minutes' THEN
            RAISE EXCEPTION 'outside the session''s join window' USING ERRCODE = 'MB409';
        END IF;
        RETURN 'publish';
    END IF;
    IF now() < s.starts_at - interval '10 minutes' OR now() > s.ends_at + interval '30 minutes' THEN
        RAISE EXCEPTION 'outside the session''s join window' USING ERRCODE = 'MB409';
    END IF;
    RETURN 'subscribe';
END $$;

-- One review per confirmed attendee, after the session ended (or its end
-- time passed).
CREATE FUNCTION booking_review(p_booking bigint, p_user bigint, p_rating integer, p_body text)
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE b bookings; s sessions; rid bigint;
BEGIN
    SELECT * INTO b FROM bookings WHERE id = p_booking;
    IF NOT FOUND OR b.mentee_id <> p_user OR b.status <> 'confirmed' THEN
        RAISE EXCEPTION 'only an attendee of this session may review it' USING ERRCODE = 'MB403';
    END IF;
    SELECT * INTO s FROM sessions WHERE id = b.session_id;
    IF s.status <> 'ended' AND s.ends_at > now() THEN
        RAISE EXCEPTION 'reviews open when the session is over' USING ERRCODE = 'MB409';
    END IF;
    INSERT INTO reviews (booking_id, mentor_id, mentee_id, rating, body)
    VALUES (p_booking, s.mentor_id, p_user, p_rating, coalesce(p_body, ''))
    RETURNING id INTO rid;
    RETURN jsonb_build_object('id', rid, 'booking_id', p_booking, 'rating', p_rating);
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'you already reviewed this booking' USING ERRCODE = 'MB409';
END $$;

CREATE FUNCTION booking_review_reply(p_review bigint, p_user bigint, p_reply text) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE reviews SET mentor_reply = p_reply WHERE id = p_review AND mentor_id = p_user;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such review' USING ERRCODE = 'MB404';
    END IF;
    RETURN jsonb_build_object('id', p_review, 'mentor_reply', p_reply);
END $$;

CREATE FUNCTION booking_reviews_json(p_mentor bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('id', r.id, 'rating', r.rating, 'body', r.body,
           'mentor_reply', r.mentor_reply, 'mentee_name', u.name,
           'created_at', booking_iso(r.created_at)) ORDER BY r.id DESC), '[]')
      FROM (SELECT * FROM reviews WHERE mentor_id = p_mentor ORDER BY id DESC LIMIT 100) r
      JOIN users u ON u.id = r.mentee_id
$$;

CREATE FUNCTION booking_notifications_json(p_user bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('id', n.id, 'kind', n.kind,
           'booking_id', n.booking_id, 'body', n.body, 'read', n.read_at IS NOT NULL,
           'created_at', booking_iso(n.created_at)) ORDER BY n.id DESC), '[]')
      FROM (SELECT * FROM notifications WHERE user_id = p_user ORDER BY id DESC LIMIT 100) n
$$;

-- Search. Filters in b (all optional): skill, tag, topic, name (trigram),
-- min_experience, min_rating, min_price, max_price, free, available_from +
-- available_to (has a bookable slot in that range); sort relevance |
-- rating | price | experience. Keyset pagination on (sort value, id) from
-- the cursor (p_after_key, p_after_id; the key as text, which round-trips
-- numeric and float8 exactly). The ORDER BY is built per sort so that
-- rating, price and experience can walk their btree indexes; relevance with
-- a name is trigram distance, nearest first, else rating.
CREATE FUNCTION booking_search(b jsonb, p_limit integer, p_after_key text, p_after_id bigint)
RETURNS TABLE (id bigint, sort_key text, item jsonb) LANGUAGE plpgsql STABLE AS $f$
DECLARE
    sort text := coalesce(b->>'sort', 'relevance');
    col text;
    dir text := 'DESC';
    after text;
BEGIN
    col := CASE sort WHEN 'price' THEN 'p.price_cents'
                     WHEN 'experience' THEN 'p.years_experience'
                     WHEN 'rating' THEN 'p.rating_avg'
                     ELSE CASE WHEN b ? 'name' THEN '(p.name <-> ($1->>''name''))'
                               ELSE 'p.rating_avg' END END;
    IF sort = 'price' OR (sort = 'relevance' AND b ? 'name') THEN
        dir := 'ASC';
    END IF;
    after := format('($3::bigint IS NULL OR %1$s %2$s $2::%3$s OR (%1$s = $2::%3$s AND p.user_id < $3))',
                    col, CASE dir WHEN 'ASC' THEN '>' ELSE '<' END,
                    CASE WHEN col LIKE '(p.name%%' THEN 'float8' ELSE 'numeric' END);
    RETURN QUERY EXECUTE format($q$
        SELECT p.user_id, (%1$s)::text, booking_profile_json(p.user_id)
          FROM mentor_profiles p
         WHERE ($1->>'skill' IS NULL OR p.skills @> ARRAY[lower($1->>'skill')])
           AND ($1->>'tag' IS NULL OR p.tags @> ARRAY[lower($1->>'tag')])
           AND ($1->>'topic' IS NULL OR p.topics @> ARRAY[lower($1->>'topic')])
           AND ($1->>'name' IS NULL OR p.name %% ($1->>'name'))
           AND ($1->>'min_experience' IS NULL OR p.years_experience >= ($1->>'min_experience')::int)
           AND ($1->>'min_rating' IS NULL OR p.rating_avg >= ($1->>'min_rating')::numeric)
           AND ($1->>'min_price' IS NULL OR p.price_cents >= ($1->>'min_price')::int)
           AND ($1->>'max_price' IS NULL OR p.price_cents <= ($1->>'max_price')::int)
           AND (NOT coalesce(($1->>'free')::boolean, false) OR p.price_cents = 0)
           AND ($1->>'available_from' IS NULL OR EXISTS (
                 SELECT 1 FROM session_types st,
                        LATERAL booking_slots(st.id, ($1->>'available_from')::timestamptz,
                                              ($1->>'available_to')::timestamptz) sl
                  WHERE st.mentor_id = p.user_id AND st.active))
           AND %2$s
         ORDER BY %1$s %3$s, p.user_id DESC
         LIMIT $4 $q$, col, after, dir)
    USING b, p_after_key, p_after_id, p_limit;
END $f$;
