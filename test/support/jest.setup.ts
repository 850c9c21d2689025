import { installTestAuditKeyring } from '@yunying/audit/testing';

// Integration and system tests talk to real servers; their first connection can take seconds on a
// loaded 2-core CI machine. Tests never sleep for timing: they wait for events with bounded waits.
jest.setTimeout(60_000);

// Services install the audit MAC keyring at start-up (services/launcher); tests that append audit records
// in-process get a random one, so their records are keyed links exactly like a service's.
installTestAuditKeyring();
