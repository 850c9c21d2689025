// Integration and system tests talk to real servers; their first connection can take seconds on a
// loaded 2-core CI machine. Tests never sleep for timing: they wait for events with bounded waits.
jest.setTimeout(60_000);
