import type { Registry } from 'prom-client';
import type { AssociationEnd } from '@yunying/dimse';
import { counter, histogram } from '@yunying/http';

/** Prometheus metrics of the DIMSE SCP. Labels are closed sets (outcomes, hex statuses), never AE titles or UIDs. */
export interface DimseMetrics {
  associationDecided(outcome: string): void;
  associationEnded(how: AssociationEnd): void;
  storeAnswered(status: string, seconds: number): void;
}

export function dimseMetrics(registry: Registry): DimseMetrics {
  const associations = counter(registry, 'yunying_dimse_associations_total', 'A-ASSOCIATE requests by outcome (accepted, rejected_<reason>)', ['outcome']);
  const ends = counter(registry, 'yunying_dimse_association_ends_total', 'Accepted associations by how they ended', ['how']);
  const stores = counter(registry, 'yunying_dimse_cstore_total', 'C-STORE responses by PS3.7 status (hex)', ['status']);
  const storeSeconds = histogram(registry, 'yunying_dimse_cstore_seconds', 'Time from the last dataset PDV to the C-STORE response', ['status'], [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30]);
  return {
    associationDecided: (outcome) => associations.inc({ outcome }),
    associationEnded: (how) => ends.inc({ how }),
    storeAnswered: (status, seconds) => {
      stores.inc({ status });
      storeSeconds.observe({ status }, seconds);
    },
  };
}
