import type { Principal, Role } from './principal';

export interface RequestOrigin {
  sourceIp?: string | null;
  requestId?: string | null;
  /** The User-Agent header (at most 256 characters): recorded with a new session only, never in audit details. */
  userAgent?: string | null;
}

/** An administrative change: who made it (audited as a Security Alert, PS3.15 A.5.3.11). */
export interface AdminContext extends RequestOrigin {
  actor: Principal;
}

export interface TokenPair {
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
  principal: Principal;
}

/**
 * A sign-in's tokens and what the user must be told once: the recovery codes made when a generator was set up
 * at this sign-in, or how many are left after one was spent.
 */
export interface SignInResult extends TokenPair {
  recoveryCodes?: string[];
  recoveryCodesLeft?: number;
}

export interface RecoveryCodesState {
  remaining: number;
  issuedAt: Date | null;
}

/** A user's own second factor, for the account page: the generator's state, the role's rule, the codes left. */
export interface SecondFactorStatus {
  totp: 'none' | 'pending' | 'confirmed';
  required: boolean;
  recoveryCodes: RecoveryCodesState;
}

export interface UserView {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  clinicId: string | null;
  disabled: boolean;
  grants: string[];
  createdAt: Date;
}

/** A user as the admin's list shows it: besides the account, how it is used (dormant accounts are to be disabled). */
export interface UserListEntry extends UserView {
  /** When the newest sign-in started (web, API or OIDC); null when the account has never signed in. */
  lastSignInAt: Date | null;
  /** Sign-ins not ended and not expired. */
  openSessions: number;
  /** Enabled, and no sign-in (or, never signed in, no creation), nor re-enabling by an admin, for `DORMANT_AFTER_DAYS`. */
  dormant: boolean;
}

/** How dormant accounts are handled, for the admin's Users page: flagged after `flagAfterDays`; disabled by the keeper after `disableAfterDays` (null: never). */
export interface DormancyPolicy {
  flagAfterDays: number;
  disableAfterDays: number | null;
}

export type DimseAuthPolicy = 'credentials' | 'ae_only';

export interface ClinicView {
  id: string;
  code: string;
  name: string;
  retentionYears: number;
  aeTitles: string[];
  /** DIMSE policy (migration 0901): 'credentials' (TLS certificate or user identity) or 'ae_only'. */
  dimseAuth: DimseAuthPolicy;
  createdAt: Date;
}

export interface ApiKeyView {
  id: string;
  clinicId: string;
  name: string;
  keyPrefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  replacedBy: string | null;
}

/** Returned once, at creation or rotation: the plaintext key is never stored and cannot be shown again. */
export interface CreatedApiKey extends ApiKeyView {
  key: string;
}

export interface OwnSessionView {
  id: string;
  createdAt: Date;
  expiresAt: Date;
  sourceIp: string | null;
  userAgent: string | null;
  current: boolean;
}
