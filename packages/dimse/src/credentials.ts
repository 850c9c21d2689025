import { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { constants, type association } from 'dcmjs-dimse';

/**
 * What an association presents besides its AE titles (issue #17), read by the SCP and handed to the
 * service, which decides what it proves:
 *  - the TLS peer (DICOM TLS, PS3.15 B.1): the client certificate the handshake verified against the CA;
 *  - the User Identity sub-item of the A-ASSOCIATE-RQ (PS3.7 D.3.3.7).
 * The passcode never goes into a log line or an error: only `type` and `username` may be logged.
 */

/** PS3.7 D.3.3.7.1 User-Identity-Type. */
export type UserIdentityKind = 'username' | 'username_passcode' | 'kerberos' | 'saml' | 'jwt' | 'unknown';

export interface UserIdentity {
  kind: UserIdentityKind;
  /** Primary field: the username (types 1, 2), or a ticket / assertion / token (3-5). */
  username: string;
  /** Secondary field: the passcode of type 2; empty otherwise. Secret. */
  passcode: string;
  positiveResponseRequested: boolean;
}

export interface TlsPeer {
  /** The client certificate was presented and verified against the configured CA. */
  authorized: boolean;
  /** SHA-256 fingerprint of the client certificate (DER), `AB:CD:…` as Node gives it; null without one. */
  fingerprint256: string | null;
  /** Subject CN, for logs. */
  subjectCn: string | null;
  /** Negotiated protocol, e.g. TLSv1.3. */
  protocol: string | null;
}

const { UserIdentityType } = constants;

function kindOf(type: number): UserIdentityKind {
  switch (type) {
    case UserIdentityType.Username:
      return 'username';
    case UserIdentityType.UsernameAndPasscode:
      return 'username_passcode';
    case UserIdentityType.Kerberos:
      return 'kerberos';
    case UserIdentityType.Saml:
      return 'saml';
    case UserIdentityType.Jwt:
      return 'jwt';
    default:
      return 'unknown';
  }
}

export function userIdentityOf(assoc: association.Association): UserIdentity | null {
  if (!assoc.getNegotiateUserIdentity()) return null;
  return {
    kind: kindOf(assoc.getUserIdentityType()),
    username: assoc.getUserIdentityPrimaryField() ?? '',
    passcode: assoc.getUserIdentitySecondaryField() ?? '',
    positiveResponseRequested: assoc.getUserIdentityPositiveResponseRequested(),
  };
}

/**
 * PS3.7 D.3.3.7.2: when the requestor asked for a positive response, the A-ASSOCIATE-AC carries a User
 * Identity server response item; for types 1 and 2 its response is empty.
 */
export function answerUserIdentity(assoc: association.Association, identity: UserIdentity | null): void {
  const respond = identity !== null && identity.positiveResponseRequested && (identity.kind === 'username' || identity.kind === 'username_passcode');
  assoc.setNegotiateUserIdentityServerResponse(respond);
  if (respond) assoc.setUserIdentityServerResponse('');
}

export function tlsPeerOf(socket: Socket): TlsPeer | null {
  if (!(socket instanceof TLSSocket)) return null;
  const certificate = socket.getPeerCertificate();
  const present = certificate !== null && typeof certificate === 'object' && typeof certificate.fingerprint256 === 'string' && certificate.fingerprint256 !== '';
  const cn = present ? certificate.subject?.CN : undefined;
  return {
    authorized: socket.authorized,
    fingerprint256: present ? certificate.fingerprint256 : null,
    subjectCn: typeof cn === 'string' ? cn : Array.isArray(cn) ? (cn[0] ?? null) : null,
    protocol: socket.getProtocol(),
  };
}
