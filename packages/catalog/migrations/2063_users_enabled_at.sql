-- When an admin last turned a disabled account back on. Dormancy (no sign-in for a while, GB/T 22239-2019
-- 8.1.4.2) counts from the newest of the last sign-in, the account's creation and this, so an account an admin
-- has just re-enabled is not flagged, or disabled by AUTH_DORMANT_DISABLE_DAYS, again before its user can sign in.
ALTER TABLE users ADD COLUMN enabled_at timestamptz;
