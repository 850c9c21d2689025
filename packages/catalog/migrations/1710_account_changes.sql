-- Four eyes for real (issue #17 finding 4): an admin could create an auditor account, sign in as it and
-- approve the admin's own disposal request. Every creation or change of an account by another user is
-- recorded here, so that a four-eyes decision can refuse an approver whose account the requester created or
-- changed (packages/auth/src/stewardship.ts). Append-only for the application role: who shaped an account
-- must not be erasable by the same application that checks it.
CREATE TABLE user_account_changes (
  user_id    uuid NOT NULL REFERENCES users(id),
  changed_by uuid NOT NULL REFERENCES users(id),
  change     text NOT NULL CHECK (change IN ('created', 'updated', 'grant-added', 'grant-revoked')),
  changed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, changed_by, change)
);
CREATE INDEX user_account_changes_by ON user_account_changes (changed_by);

-- What is already known: grants recorded their granter, and the audit trail names who created or changed an
-- account (Security Configuration alerts of the auth service).
INSERT INTO user_account_changes (user_id, changed_by, change)
SELECT user_id, granted_by, 'grant-added' FROM radiologist_grants WHERE granted_by IS NOT NULL AND granted_by <> user_id
ON CONFLICT DO NOTHING;
INSERT INTO user_account_changes (user_id, changed_by, change)
SELECT (e.details->>'targetUserId')::uuid, e.actor_user_id,
       CASE e.details->>'change' WHEN 'user-created' THEN 'created' WHEN 'user-updated' THEN 'updated' ELSE e.details->>'change' END
  FROM audit_events e
  JOIN users t ON t.id::text = e.details->>'targetUserId'
  JOIN users a ON a.id = e.actor_user_id
 WHERE e.details->>'change' IN ('user-created', 'user-updated', 'grant-added', 'grant-revoked')
   AND e.actor_user_id IS NOT NULL AND e.actor_user_id::text <> e.details->>'targetUserId'
ON CONFLICT DO NOTHING;

DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'yunying_app') THEN
    REVOKE UPDATE, DELETE ON user_account_changes FROM yunying_app;
    GRANT SELECT, INSERT ON user_account_changes TO yunying_app;
  END IF;
END $$;
