-- 0004_recordings: placeholder, filled in by the work that owns it.
SELECT 1;
