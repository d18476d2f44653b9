-- 0002_accounts: placeholder, filled in by the work that owns it.
SELECT 1;
