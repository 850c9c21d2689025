/**
 * The exit codes of every `yunying` command, for scripts. Documented in docs/clinic-side.md; a change
 * here is a breaking change for every clinic's scripts.
 */
export const ExitCode = {
  /** Everything is in the archive (sent now, or already there). */
  Ok: 0,
  /** The archive (or the local check, which applies the archive's rules) refused some files for good. */
  Rejected: 1,
  /** A wrong flag, a missing setting, an unreadable input. */
  Usage: 2,
  /** The archive could not be reached, or kept failing, for longer than the retry budget: run again later. */
  Unreachable: 3,
  /** The archive refused the API key (401/403). */
  AuthRefused: 4,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
