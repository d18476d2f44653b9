-- 0006_payments: payments through a provider (Stripe API), a credits
-- ledger (double entry), refunds, idempotency keys and webhook events
-- (docs/payments.md).
--
-- The rules that protect money live here, not in C:
--   * pay_entries is append-only (triggers refuse UPDATE/DELETE/TRUNCATE)
--     and entries are only written by pay_post(), which refuses a
--     transaction whose entries do not sum to zero; a deferred constraint
--     trigger checks the sum again at commit for anything else;
--   * pay_accounts.balance is updated in the same statement sequence as the
--     entries, and CHECK (balance >= 0) for user accounts refuses an
--     overdraw whatever the concurrency (the row lock serialises spenders);
--   * one live payment per booking, one refund per payment, one ledger
--     transaction per (payment, kind) and per refund: unique indexes, so a
--     retried or duplicated request or webhook can never move money twice.
-- Business errors use SQLSTATE 'MB' + HTTP status like 0005_booking.sql.

-- Accounts. User accounts (mentee_credits, mentor_earnings) are what the
-- platform owes a user and never go negative; platform_fees is the
-- platform's income; card_clearing is the outside world (money that came in
-- by card is a negative balance there, so every balance sums to zero).
CREATE TABLE pay_accounts (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind      text NOT NULL CHECK (kind IN ('mentee_credits', 'mentor_earnings', 'platform_fees',
                                            'card_clearing')),
    user_id   bigint REFERENCES users (id),
    currency  text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    balance   bigint NOT NULL DEFAULT 0,
    CHECK ((kind IN ('mentee_credits', 'mentor_earnings')) = (user_id IS NOT NULL)),
    CONSTRAINT pay_accounts_not_negative
        CHECK (kind NOT IN ('mentee_credits', 'mentor_earnings') OR balance >= 0),
    UNIQUE NULLS NOT DISTINCT (kind, user_id, currency)
);

CREATE TABLE payments (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id            bigint NOT NULL REFERENCES users (id),
    purpose            text NOT NULL CHECK (purpose IN ('booking', 'credits')),
    booking_id         bigint REFERENCES bookings (id),
    method             text NOT NULL CHECK (method IN ('card', 'credits')),
    amount_cents       bigint NOT NULL CHECK (amount_cents BETWEEN 1 AND 99999999),
    fee_cents          bigint NOT NULL DEFAULT 0 CHECK (fee_cents >= 0 AND fee_cents <= amount_cents),
    currency           text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    -- pending_provider: we have not heard from the provider yet (timeout,
    -- 5xx): the reconcile job asks again with the same Idempotency-Key.
    status             text NOT NULL CHECK (status IN ('pending_provider', 'requires_payment_method',
                         'requires_confirmation', 'requires_action', 'processing', 'failed',
                         'canceled', 'succeeded')),
    provider_intent_id text UNIQUE,
    client_secret      text,
    payment_method     text,
    next_action_url    text,
    last_error         text,
    amount_received    bigint NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((purpose = 'booking') = (booking_id IS NOT NULL))
);
-- A booking is paid at most once at a time: a second attempt (another
-- Idempotency-Key, another tab) finds the first.
CREATE UNIQUE INDEX payments_one_live ON payments (booking_id)
    WHERE status NOT IN ('failed', 'canceled');
CREATE INDEX payments_user ON payments (user_id, id);
CREATE INDEX payments_pending ON payments (updated_at)
    WHERE status IN ('pending_provider', 'requires_confirmation', 'processing');

-- Intent states move forward only (webhooks arrive in any order).
CREATE FUNCTION pay_rank(s text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE s WHEN 'pending_provider' THEN 0 WHEN 'requires_payment_method' THEN 1
                  WHEN 'requires_confirmation' THEN 2 WHEN 'requires_action' THEN 3
                  WHEN 'processing' THEN 4 WHEN 'failed' THEN 5 WHEN 'canceled' THEN 6
                  WHEN 'succeeded' THEN 9 ELSE -1 END
$$;

CREATE TABLE pay_refunds (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id         bigint NOT NULL UNIQUE REFERENCES payments (id), -- exactly once
    amount_cents       bigint NOT NULL CHECK (amount_cents > 0),
    method             text NOT NULL CHECK (method IN ('card', 'credits')),
    status             text NOT NULL CHECK (status IN ('pending_provider', 'pending', 'failed',
                                                       'succeeded')),
    reason             text NOT NULL,
    provider_refund_id text UNIQUE,
    last_error         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION pay_refund_rank(s text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE s WHEN 'pending_provider' THEN 0 WHEN 'pending' THEN 1 WHEN 'failed' THEN 2
                  WHEN 'succeeded' THEN 3 ELSE -1 END
$$;

-- The journal: a transaction and its entries (amount > 0 raises the
-- account's balance). One ledger transaction per (payment, kind) and per
-- refund.
CREATE TABLE pay_transactions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('credits_purchase', 'booking_card', 'booking_credits',
                                              'refund_card', 'refund_credits')),
    payment_id  bigint REFERENCES payments (id),
    refund_id   bigint UNIQUE REFERENCES pay_refunds (id),
    currency    text NOT NULL,
    memo        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX pay_transactions_once ON pay_transactions (payment_id, kind)
    WHERE refund_id IS NULL;
CREATE INDEX pay_transactions_day ON pay_transactions (created_at);

CREATE TABLE pay_entries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    txn_id      bigint NOT NULL REFERENCES pay_transactions (id),
    account_id  bigint NOT NULL REFERENCES pay_accounts (id),
    amount      bigint NOT NULL CHECK (amount <> 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pay_entries_account ON pay_entries (account_id, id);
CREATE INDEX pay_entries_txn ON pay_entries (txn_id);

CREATE FUNCTION pay_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'MB409';
END $$;
CREATE TRIGGER pay_entries_append_only BEFORE UPDATE OR DELETE ON pay_entries
    FOR EACH ROW EXECUTE FUNCTION pay_append_only();
CREATE TRIGGER pay_entries_no_truncate BEFORE TRUNCATE ON pay_entries
    FOR EACH STATEMENT EXECUTE FUNCTION pay_append_only();
CREATE TRIGGER pay_transactions_append_only BEFORE UPDATE OR DELETE ON pay_transactions
    FOR EACH ROW EXECUTE FUNCTION pay_append_only();
CREATE TRIGGER pay_transactions_no_truncate BEFORE TRUNCATE ON pay_transactions
    FOR EACH STATEMENT EXECUTE FUNCTION pay_append_only();

-- At commit: every transaction touched sums to zero (also for rows written
-- by hand, not through pay_post).
CREATE FUNCTION pay_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE s bigint;
BEGIN
    SELECT sum(amount) INTO s FROM pay_entries WHERE txn_id = NEW.txn_id;
    IF s <> 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (%)', NEW.txn_id, s
            USING ERRCODE = 'MB500';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER pay_entries_balanced AFTER INSERT ON pay_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION pay_check_balanced();

-- The account (created on first use).
CREATE FUNCTION pay_account(p_kind text, p_user bigint, p_currency text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE aid bigint;
BEGIN
    SELECT id INTO aid FROM pay_accounts
     WHERE kind = p_kind AND user_id IS NOT DISTINCT FROM p_user AND currency = p_currency;
    IF aid IS NULL THEN
        INSERT INTO pay_accounts (kind, user_id, currency) VALUES (p_kind, p_user, p_currency)
        ON CONFLICT DO NOTHING RETURNING id INTO aid;
        IF aid IS NULL THEN
            SELECT id INTO aid FROM pay_accounts
             WHERE kind = p_kind AND user_id IS NOT DISTINCT FROM p_user AND currency = p_currency;
        END IF;
    END IF;
    RETURN aid;
END $$;

-- Post one balanced transaction. p_entries: [{kind, user_id|null, amount}].
-- Balances are updated in account-id order (no deadlock between two
-- posters); an overdraw fails pay_accounts_not_negative -> MB402.
-- A second posting of the same (payment, kind) or refund is a no-op that
-- returns NULL.
CREATE FUNCTION pay_post(p_kind text, p_payment bigint, p_refund bigint, p_currency text,
                         p_memo text, p_entries jsonb) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE tid bigint; e record; total bigint;
BEGIN
    SELECT coalesce(sum((x->>'amount')::bigint), 0) INTO total FROM jsonb_array_elements(p_entries) x;
    IF total <> 0 OR jsonb_array_length(p_entries) < 2 THEN
        RAISE EXCEPTION 'unbalanced ledger transaction' USING ERRCODE = 'MB500';
    END IF;
    INSERT INTO pay_transactions (kind, payment_id, refund_id, currency, memo)
    VALUES (p_kind, p_payment, p_refund, p_currency, coalesce(p_memo, ''))
    ON CONFLICT DO NOTHING RETURNING id INTO tid;
    IF tid IS NULL THEN
        RETURN NULL;
    END IF;
    FOR e IN SELECT pay_account(x->>'kind', (x->>'user_id')::bigint, p_currency) AS aid,
                    (x->>'amount')::bigint AS amount
               FROM jsonb_array_elements(p_entries) x WHERE (x->>'amount')::bigint <> 0
              ORDER BY 1 LOOP
        INSERT INTO pay_entries (txn_id, account_id, amount) VALUES (tid, e.aid, e.amount);
        BEGIN
            UPDATE pay_accounts SET balance = balance + e.amount WHERE id = e.aid;
        EXCEPTION WHEN check_violation THEN
            RAISE EXCEPTION 'insufficient balance' USING ERRCODE = 'MB402';
        END;
    END LOOP;
    RETURN tid;
END $$;

CREATE TABLE idempotency_keys (
    user_id       bigint NOT NULL,
    key           text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    request_hash  text NOT NULL,
    state         text NOT NULL CHECK (state IN ('running', 'done')),
    status        integer,
    content_type  text,
    body          text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE pay_webhook_events (
    id           text PRIMARY KEY,          -- evt_...: a replay is refused here
    type         text NOT NULL,
    object_id    text,
    received_at  timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------
-- Entry points (control/pay_*.c).

CREATE FUNCTION pay_iso(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

CREATE FUNCTION pay_json(p payments) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', p.id, 'purpose', p.purpose, 'booking_id', p.booking_id,
           'method', p.method, 'amount_cents', p.amount_cents, 'fee_cents', p.fee_cents,
           'currency', p.currency, 'status', p.status, 'provider_intent_id', p.provider_intent_id,
           'client_secret', p.client_secret, 'next_action_url', p.next_action_url,
           'last_error', p.last_error, 'amount_received', p.amount_received,
           'created_at', pay_iso(p.created_at), 'updated_at', pay_iso(p.updated_at),
           'refund', (SELECT jsonb_build_object('id', r.id, 'status', r.status,
                        'amount_cents', r.amount_cents, 'method', r.method, 'reason', r.reason)
                        FROM pay_refunds r WHERE r.payment_id = p.id))
$$;

-- Start paying a held booking. Locks the booking; a live payment of it is
-- returned as is (existing = true) so that a second request never starts a
-- second charge. Credits: the whole payment happens here (ledger + status),
-- the caller confirms the booking in the same transaction.
CREATE FUNCTION pay_begin_booking(p_user bigint, p_booking bigint, p_method text,
                                  p_currency text, p_fee_pct integer, p_payment_method text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE b bookings; s sessions; mp mentor_profiles; p payments; fee bigint;
BEGIN
    SELECT * INTO b FROM bookings WHERE id = p_booking FOR UPDATE;
    IF NOT FOUND OR b.mentee_id <> p_user THEN
        RAISE EXCEPTION 'no such booking' USING ERRCODE = 'MB404';
    END IF;
    SELECT * INTO p FROM payments WHERE booking_id = p_booking
       AND status NOT IN ('failed', 'canceled');
    IF FOUND THEN
        RETURN pay_json(p) || jsonb_build_object('existing', true);
    END IF;
    IF b.price_cents <= 0 THEN
        RAISE EXCEPTION 'this booking is free' USING ERRCODE = 'MB409';
    END IF;
    IF b.status <> 'held' OR b.expires_at <= now() THEN
        RAISE EXCEPTION 'the booking is % and cannot be paid', CASE WHEN b.status = 'held'
            THEN 'expired' ELSE b.status END USING ERRCODE = 'MB409';
    END IF;
    SELECT * INTO s FROM sessions WHERE id = b.session_id;
    SELECT * INTO mp FROM mentor_profiles WHERE user_id = s.mentor_id;
    IF lower(mp.currency) <> p_currency THEN
        RAISE EXCEPTION 'currency % is not accepted (payments are in %)', mp.currency,
            upper(p_currency) USING ERRCODE = 'MB422';
    END IF;
    fee := b.price_cents * p_fee_pct / 100;
    INSERT INTO payments (user_id, purpose, booking_id, method, amount_cents, fee_cents, currency,
                          status, payment_method)
    VALUES (p_user, 'booking', p_booking, p_method, b.price_cents, fee, p_currency,
            CASE p_method WHEN 'credits' THEN 'succeeded' ELSE 'pending_provider' END,
            p_payment_method)
    RETURNING * INTO p;
    IF p_method = 'credits' THEN
        PERFORM pay_post('booking_credits', p.id, NULL, p_currency, 'booking ' || p_booking,
            jsonb_build_array(
                jsonb_build_object('kind', 'mentee_credits', 'user_id', p_user, 'amount', -p.amount_cents),
                jsonb_build_object('kind', 'mentor_earnings', 'user_id', s.mentor_id,
                                   'amount', p.amount_cents - fee),
                jsonb_build_object('kind', 'platform_fees', 'amount', fee)));
        UPDATE payments SET amount_received = amount_cents WHERE id = p.id RETURNING * INTO p;
    END IF;
    RETURN pay_json(p) || jsonb_build_object('existing', false);
END $$;

CREATE FUNCTION pay_begin_credits(p_user bigint, p_amount bigint, p_currency text,
                                  p_payment_method text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE p payments;
BEGIN
    INSERT INTO payments (user_id, purpose, method, amount_cents, currency, status, payment_method)
    VALUES (p_user, 'credits', 'card', p_amount, p_currency, 'pending_provider', p_payment_method)
    RETURNING * INTO p;
    RETURN pay_json(p) || jsonb_build_object('existing', false);
END $$;

-- Apply what the provider says about an intent (API answer, webhook event
-- or reconcile GET). The state moves forward only; on success the money is
-- booked once. Returns {payment_id, booking_id, status, changed,
-- succeeded_now, released} so the caller confirms or releases the booking.
CREATE FUNCTION pay_apply_intent(p_payment bigint, p_intent text, p_status text,
                                 p_amount_received bigint, p_currency text, p_client_secret text,
                                 p_next_url text, p_error text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE p payments; s sessions; mentor bigint; fee bigint; now_succeeded boolean := false;
        released boolean := false; bk bigint;
BEGIN
    -- Lock order booking -> payment, as the pay and cancel paths do, so a
    -- webhook racing a cancellation waits instead of deadlocking.
    SELECT booking_id INTO bk FROM payments
     WHERE (p_payment IS NOT NULL AND id = p_payment)
        OR (p_payment IS NULL AND provider_intent_id = p_intent);
    IF bk IS NOT NULL THEN
        PERFORM 1 FROM bookings WHERE id = bk FOR UPDATE;
    END IF;
    IF p_payment IS NOT NULL THEN
        SELECT * INTO p FROM payments WHERE id = p_payment FOR UPDATE;
    ELSE
        SELECT * INTO p FROM payments WHERE provider_intent_id = p_intent FOR UPDATE;
    END IF;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF p.provider_intent_id IS NOT NULL AND p_intent IS NOT NULL AND p.provider_intent_id <> p_intent THEN
        RAISE EXCEPTION 'intent % does not belong to payment %', p_intent, p.id USING ERRCODE = 'MB409';
    END IF;
    UPDATE payments SET provider_intent_id = coalesce(provider_intent_id, p_intent),
           client_secret = coalesce(p_client_secret, client_secret),
           next_action_url = CASE WHEN p_status = 'requires_action' THEN p_next_url ELSE next_action_url END,
           updated_at = now()
     WHERE id = p.id;
    IF pay_rank(p_status) <= pay_rank(p.status) THEN
        RETURN jsonb_build_object('payment_id', p.id, 'booking_id', p.booking_id,
                                  'status', p.status, 'changed', false);
    END IF;
    IF p_status = 'succeeded' THEN
        IF p_currency IS DISTINCT FROM p.currency OR p_amount_received IS NULL
           OR p_amount_received <= 0 THEN
            RAISE EXCEPTION 'succeeded intent without a received amount in %', p.currency
                USING ERRCODE = 'MB422';
        END IF;
        fee := CASE WHEN p.amount_cents = p_amount_received THEN p.fee_cents
                    ELSE p_amount_received * p.fee_cents / p.amount_cents END;
        IF p.purpose = 'credits' THEN
            PERFORM pay_post('credits_purchase', p.id, NULL, p.currency, 'credits',
                jsonb_build_array(
                    jsonb_build_object('kind', 'card_clearing', 'amount', -p_amount_received),
                    jsonb_build_object('kind', 'mentee_credits', 'user_id', p.user_id,
                                       'amount', p_amount_received)));
        ELSE
            SELECT se.* INTO s FROM bookings b JOIN sessions se ON se.id = b.session_id
             WHERE b.id = p.booking_id;
            PERFORM pay_post('booking_card', p.id, NULL, p.currency, 'booking ' || p.booking_id,
                jsonb_build_array(
                    jsonb_build_object('kind', 'card_clearing', 'amount', -p_amount_received),
                    jsonb_build_object('kind', 'mentor_earnings', 'user_id', s.mentor_id,
                                       'amount', p_amount_received - fee),
                    jsonb_build_object('kind', 'platform_fees', 'amount', fee)));
        END IF;
        now_succeeded := true;
    ELSIF p_status IN ('failed', 'canceled') AND p.purpose = 'booking' THEN
        -- A failed or cancelled payment gives the seat back.
        UPDATE bookings SET status = 'cancelled', cancelled_by = 'system', cancelled_at = now(),
               refund = 'not_applicable'
         WHERE id = p.booking_id AND status = 'held';
        released := FOUND;
    END IF;
    UPDATE payments SET status = p_status, last_error = coalesce(p_error, last_error),
           amount_received = CASE WHEN p_status = 'succeeded' THEN p_amount_received
                                  ELSE amount_received END
     WHERE id = p.id;
    RETURN jsonb_build_object('payment_id', p.id, 'booking_id', p.booking_id, 'status', p_status,
                              'changed', true, 'succeeded_now', now_succeeded,
                              'released', released);
END $$;

-- Ask for the refund of a succeeded payment, once: a second request
-- returns the first refund (created = false). Credits refunds are booked at
-- once; card refunds wait for the provider (pay_apply_refund).
CREATE FUNCTION pay_request_refund(p_payment bigint, p_reason text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE p payments; r pay_refunds; created boolean := false;
BEGIN
    PERFORM 1 FROM bookings WHERE id = (SELECT booking_id FROM payments WHERE id = p_payment)
        FOR UPDATE;
    SELECT * INTO p FROM payments WHERE id = p_payment FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such payment' USING ERRCODE = 'MB404';
    END IF;
    SELECT * INTO r FROM pay_refunds WHERE payment_id = p_payment;
    IF NOT FOUND THEN
        IF p.status <> 'succeeded' THEN
            RAISE EXCEPTION 'only a succeeded payment can be refunded (it is %)', p.status
                USING ERRCODE = 'MB409';
        END IF;
        IF p.purpose = 'credits' THEN
            RAISE EXCEPTION 'credit purchases are not refunded' USING ERRCODE = 'MB409';
        END IF;
        INSERT INTO pay_refunds (payment_id, amount_cents, method, status, reason)
        VALUES (p.id, p.amount_received, p.method,
                CASE p.method WHEN 'credits' THEN 'succeeded' ELSE 'pending_provider' END, p_reason)
        RETURNING * INTO r;
        created := true;
        IF p.method = 'credits' THEN
            PERFORM pay_refund_post(r.id);
        END IF;
    END IF;
    RETURN jsonb_build_object('id', r.id, 'payment_id', p.id, 'status', r.status,
                              'method', r.method, 'amount_cents', r.amount_cents,
                              'reason', r.reason, 'created', created);
END $$;

-- Book a refund in the ledger (the reverse of the payment's entries).
CREATE FUNCTION pay_refund_post(p_refund bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE r pay_refunds; p payments; mentor bigint; fee bigint;
BEGIN
    SELECT * INTO r FROM pay_refunds WHERE id = p_refund;
    SELECT * INTO p FROM payments WHERE id = r.payment_id;
    SELECT se.mentor_id INTO mentor FROM bookings b JOIN sessions se ON se.id = b.session_id
     WHERE b.id = p.booking_id;
    fee := CASE WHEN p.amount_cents = r.amount_cents THEN p.fee_cents
                ELSE r.amount_cents * p.fee_cents / p.amount_cents END;
    PERFORM pay_post(CASE r.method WHEN 'card' THEN 'refund_card' ELSE 'refund_credits' END,
        p.id, r.id, p.currency, 'refund of payment ' || p.id,
        jsonb_build_array(
            jsonb_build_object('kind', 'mentor_earnings', 'user_id', mentor,
                               'amount', -(r.amount_cents - fee)),
            jsonb_build_object('kind', 'platform_fees', 'amount', -fee),
            CASE r.method WHEN 'card'
                THEN jsonb_build_object('kind', 'card_clearing', 'amount', r.amount_cents)
                ELSE jsonb_build_object('kind', 'mentee_credits', 'user_id', p.user_id,
                                        'amount', r.amount_cents) END));
END $$;

-- Apply what the provider says about a refund; forward only; booked once
-- on success. Refund found by our id (metadata) or the provider's id.
CREATE FUNCTION pay_apply_refund(p_refund bigint, p_provider_id text, p_status text,
                                 p_error text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r pay_refunds;
BEGIN
    IF p_refund IS NOT NULL THEN
        SELECT * INTO r FROM pay_refunds WHERE id = p_refund FOR UPDATE;
    ELSE
        SELECT * INTO r FROM pay_refunds WHERE provider_refund_id = p_provider_id FOR UPDATE;
    END IF;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE pay_refunds SET provider_refund_id = coalesce(provider_refund_id, p_provider_id),
           updated_at = now() WHERE id = r.id;
    IF pay_refund_rank(p_status) <= pay_refund_rank(r.status) THEN
        RETURN jsonb_build_object('id', r.id, 'status', r.status, 'changed', false);
    END IF;
    UPDATE pay_refunds SET status = p_status, last_error = coalesce(p_error, last_error)
     WHERE id = r.id;
    IF p_status = 'succeeded' THEN
        PERFORM pay_refund_post(r.id);
    END IF;
    RETURN jsonb_build_object('id', r.id, 'status', p_status, 'changed', true);
END $$;

-- Refunds owed after bookings were cancelled (booking_cancel decided
-- refund = 'full'): one per succeeded payment. Returns the refund ids that
-- need the provider (card).
CREATE FUNCTION pay_on_cancelled(p_bookings bigint[]) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE x record; j jsonb; ids bigint[] := '{}';
BEGIN
    FOR x IN SELECT p.id FROM payments p JOIN bookings b ON b.id = p.booking_id
              WHERE b.id = ANY (p_bookings) AND b.refund = 'full' AND p.status = 'succeeded'
              ORDER BY p.id LOOP
        j := pay_request_refund(x.id, 'booking cancelled');
        IF j->>'status' = 'pending_provider' THEN
            ids := ids || (j->>'id')::bigint;
        END IF;
    END LOOP;
    RETURN ids;
END $$;

-- The caller's credits: balance and entries, newest first, keyset after
-- p_before (an entry id).
CREATE FUNCTION pay_credits_json(p_user bigint, p_currency text, p_before bigint, p_limit integer)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH a AS (SELECT * FROM pay_accounts WHERE kind = 'mentee_credits' AND user_id = p_user
                                          AND currency = p_currency),
    e AS (SELECT e.id, e.amount, e.created_at, t.kind, t.payment_id, t.refund_id
            FROM pay_entries e JOIN a ON a.id = e.account_id
            JOIN pay_transactions t ON t.id = e.txn_id
           WHERE p_before IS NULL OR e.id < p_before
           ORDER BY e.id DESC LIMIT p_limit + 1)
    SELECT jsonb_build_object('currency', p_currency,
           'balance_cents', coalesce((SELECT balance FROM a), 0),
           'items', coalesce((SELECT jsonb_agg(jsonb_build_object('id', id, 'amount_cents', amount,
                     'kind', kind, 'payment_id', payment_id, 'refund_id', refund_id,
                     'created_at', pay_iso(created_at)) ORDER BY id DESC)
                     FROM (SELECT * FROM e ORDER BY id DESC LIMIT p_limit) x), '[]'),
           'next_before', CASE WHEN (SELECT count(*) FROM e) > p_limit
                               THEN (SELECT min(id) FROM (SELECT id FROM e ORDER BY id DESC
                                                          LIMIT p_limit) y) END)
$$;

CREATE FUNCTION pay_earnings_json(p_user bigint, p_currency text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('currency', p_currency,
           'balance_cents', coalesce((SELECT balance FROM pay_accounts WHERE kind = 'mentor_earnings'
                                      AND user_id = p_user AND currency = p_currency), 0),
           'items', coalesce((SELECT jsonb_agg(jsonb_build_object('id', e.id,
                     'amount_cents', e.amount, 'kind', t.kind, 'payment_id', t.payment_id,
                     'booking_id', p.booking_id, 'refund_id', t.refund_id,
                     'created_at', pay_iso(e.created_at)) ORDER BY e.id DESC)
                     FROM pay_entries e JOIN pay_accounts a ON a.id = e.account_id
                     JOIN pay_transactions t ON t.id = e.txn_id
                     LEFT JOIN payments p ON p.id = t.payment_id
                    WHERE a.kind = 'mentor_earnings' AND a.user_id = p_user
                      AND a.currency = p_currency), '[]'))
$$;

-- Money in and out per UTC day and account kind; every day sums to zero.
CREATE FUNCTION pay_report_json(p_from date, p_to date) RETURNS jsonb LANGUAGE sql STABLE AS $$
    WITH d AS (
        SELECT (t.created_at AT TIME ZONE 'UTC')::date AS day, t.currency, a.kind,
               sum(e.amount) AS net, sum(greatest(e.amount, 0)) AS credit,
               sum(least(e.amount, 0)) AS debit
          FROM pay_entries e JOIN pay_transactions t ON t.id = e.txn_id
          JOIN pay_accounts a ON a.id = e.account_id
         WHERE t.created_at >= p_from::timestamp AT TIME ZONE 'UTC'
           AND t.created_at < (p_to + 1)::timestamp AT TIME ZONE 'UTC'
         GROUP BY 1, 2, 3)
    SELECT jsonb_build_object('from', p_from, 'to', p_to,
           'days', coalesce((SELECT jsonb_agg(jsonb_build_object('day', day, 'currency', currency,
                     'accounts', accounts, 'total', total) ORDER BY day, currency)
                     FROM (SELECT day, currency, sum(net) AS total,
                                  jsonb_object_agg(kind, jsonb_build_object('net', net,
                                      'in', credit, 'out', debit)) AS accounts
                             FROM d GROUP BY day, currency) x), '[]'),
           'total', coalesce((SELECT sum(net) FROM d), 0))
$$;
