-- 0006 is reserved for the payments migration (another branch). This
-- placeholder only keeps the version sequence whole on the search branch
-- (tools/embed_sql.py refuses gaps). When merging: delete this file and its
-- line in control/meson.build; the payments branch's 0006 takes its place.
SELECT 1;
