-- 0003_platform: placeholder, filled in by the work that owns it.
SELECT 1;
