-- The admin's user list shows each account's last sign-in (the newest session it started), so that dormant
-- accounts can be found and disabled (GB/T 22239-2019 8.1.4.2: redundant and expired accounts removed or disabled
-- in time). Sessions are never deleted; this keeps that lookup an index probe per user as the table grows.
CREATE INDEX sessions_user_created ON sessions (user_id, created_at DESC);
