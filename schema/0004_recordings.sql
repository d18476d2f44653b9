-- 0004_recordings: one row per recording of a room session. The raw track
-- files (docs/recording-format.md) are written on the node that hosts the
-- room; a job then processes them (WebM + MP4 + thumbnail) and stores the
-- result (local disk or S3). See docs/recording.md for the flow.
--
-- Status: recording -> processing -> ready
--                                  -> failed (reason) -> processing (retry)
--         recording -> failed (reason; e.g. the writer could not write)
-- Transitions are enforced by a trigger; the CHECKs below keep each status
-- consistent with its columns. Sessions are referenced as text for now
-- (bookings arrive later and will add a foreign key).

CREATE TABLE recordings (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id       uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    room_id         text NOT NULL CHECK (length(room_id) BETWEEN 1 AND 63),
    session_ref     text NOT NULL CHECK (length(session_ref) BETWEEN 1 AND 63),
    node_id         text NOT NULL DEFAULT '' CHECK (length(node_id) <= 128),
    status          text NOT NULL DEFAULT 'recording'
                    CHECK (status IN ('recording', 'processing', 'ready', 'failed')),
    failure_reason  text CHECK (length(failure_reason) BETWEEN 1 AND 2000),
    -- Folder of the raw files on node_id, and one object per track file:
    -- {"file": "video.mlrec", "kind": "video", "codec": "VP8", "bytes": 123,
    --  "records": 456, "drops": 0}
    raw_dir         text NOT NULL CHECK (length(raw_dir) BETWEEN 1 AND 1024),
    track_files     jsonb NOT NULL DEFAULT '[]'::jsonb
                    CHECK (jsonb_typeof(track_files) = 'array'),
    raw_bytes       bigint NOT NULL DEFAULT 0 CHECK (raw_bytes >= 0),
    -- Filled by processing.
    duration_ms     integer CHECK (duration_ms >= 0),
    audio_offset_ms integer CHECK (audio_offset_ms >= 0),
    video_offset_ms integer CHECK (video_offset_ms >= 0),
    output_bytes    bigint CHECK (output_bytes >= 0),
    storage_kind    text CHECK (storage_kind IN ('local', 's3')),
    storage_key     text CHECK (length(storage_key) BETWEEN 1 AND 512),
    thumbnail_key   text CHECK (length(thumbnail_key) BETWEEN 1 AND 512),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    started_at      timestamptz NOT NULL DEFAULT now(),
    ended_at        timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT recordings_reason_iff_failed
        CHECK ((status = 'failed') = (failure_reason IS NOT NULL)),
    CONSTRAINT recordings_ended_unless_recording
        CHECK ((status = 'recording') = (ended_at IS NULL) OR status = 'failed'),
    CONSTRAINT recordings_end_after_start
        CHECK (ended_at IS NULL OR ended_at >= started_at),
    CONSTRAINT recordings_ready_has_output
        CHECK (status <> 'ready' OR (duration_ms IS NOT NULL AND output_bytes IS NOT NULL
                                     AND storage_kind IS NOT NULL AND storage_key IS NOT NULL))
);

-- At most one running recording per room.
CREATE UNIQUE INDEX recordings_one_active_per_room ON recordings (room_id)
    WHERE status = 'recording';
CREATE INDEX recordings_by_session ON recordings (session_ref, created_at DESC);
CREATE INDEX recordings_pending ON recordings (status, updated_at)
    WHERE status IN ('processing', 'failed');

CREATE FUNCTION recordings_check_transition() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT (
           (OLD.status = 'recording'  AND NEW.status IN ('processing', 'failed'))
        OR (OLD.status = 'processing' AND NEW.status IN ('ready', 'failed'))
        OR (OLD.status = 'failed'     AND NEW.status = 'processing')) THEN
        RAISE EXCEPTION 'recording %: status cannot go from % to %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.status = 'processing' AND OLD.status IS DISTINCT FROM 'processing' THEN
        NEW.attempts := OLD.attempts + 1;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER recordings_transition BEFORE UPDATE ON recordings
    FOR EACH ROW EXECUTE FUNCTION recordings_check_transition();
