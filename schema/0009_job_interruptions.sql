-- 0009_job_interruptions: how many times a job was stopped by a node's
-- shutdown (control/jobs.c, CTL_JOB_INTERRUPTED).
--
-- An interrupted run is queued again without spending an attempt, so that
-- a deploy does not fail a long transcode. Unbounded, that let a job whose
-- run always outlasts the time between restarts cycle for ever. The first
-- few interruptions (CTL_JOB_FREE_INTERRUPTIONS) stay free; after that each
-- one counts as an attempt, and a job out of attempts ends `failed`.
ALTER TABLE jobs ADD COLUMN interruptions integer NOT NULL DEFAULT 0
    CHECK (interruptions >= 0);
