import type { Registry } from 'prom-client';
import type { AssociationEnd } from '@yunying/dimse';
import { counter, histogram } from '@yunying/http';

/** Prometheus metrics of the DIMSE SCP. Labels are closed sets (outcomes, hex statuses), never AE titles or UIDs. */
export interface DimseMetrics {
  associationDecided(outcome: string): void;
  associationEnded(how: AssociationEnd): void;
  storeAnswered(status: string, seconds: number): void;
  /** A C-GET / C-MOVE's final status and its sub-operations by outcome. */
  retrieveFinished(operation: 'get' | 'move', status: string, counts: { completed: number; failed: number; warning: number }): void;
  /** A Storage Commitment request's references by verdict. */
  commitmentChecked(committed: number, failed: number): void;
}

export function dimseMetrics(registry: Registry): DimseMetrics {
  const associations = counter(registry, 'yunying_dimse_associations_total', 'A-ASSOCIATE requests by outcome (accepted, rejected_<reason>)', ['outcome']);
  const ends = counter(registry, 'yunying_dimse_association_ends_total', 'Accepted associations by how they ended', ['how']);
  const stores = counter(registry, 'yunying_dimse_cstore_total', 'C-STORE responses by PS3.7 status (hex)', ['status']);
  const storeSeconds = histogram(registry, 'yunying_dimse_cstore_seconds', 'Time from the last dataset PDV to the C-STORE response', ['status'], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30]);
  const retrieves = counter(registry, 'yunying_dimse_retrieve_total', 'C-GET / C-MOVE final responses by operation and PS3.7 status (hex)', ['operation', 'status']);
  const subOperations = counter(registry, 'yunying_dimse_suboperations_total', 'Storage sub-operations of C-GET / C-MOVE by operation and outcome', ['operation', 'outcome']);
  const commitments = counter(registry, 'yunying_dimse_commitment_references_total', 'Storage Commitment references by verdict (committed, failed)', ['verdict']);
  return {
    retrieveFinished: (operation, status, counts) => {
      retrieves.inc({ operation, status });
      subOperations.inc({ operation, outcome: 'completed' }, counts.completed);
      subOperations.inc({ operation, outcome: 'failed' }, counts.failed);
      subOperations.inc({ operation, outcome: 'warning' }, counts.warning);
    },
    commitmentChecked: (committed, failed) => {
      commitments.inc({ verdict: 'committed' }, committed);
      commitments.inc({ verdict: 'failed' }, failed);
    },
    associationDecided: (outcome) => associations.inc({ outcome }),
    associationEnded: (how) => ends.inc({ how }),
    storeAnswered: (status, seconds) => {
      stores.inc({ status });
      storeSeconds.observe({ status }, seconds);
    },
  };
}
