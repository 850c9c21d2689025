import type { Router } from 'express';

/**
 * Routes one role offers to another role's HTTP server when both run in one process (the embedded
 * default, ROLE=all): ingest lends its STOW-RS router to the viewer so `/dicomweb` is one base URL for
 * STOW, QIDO, WADO-RS and WADO-URI. In scale-out the reverse proxy routes by method and path instead
 * (docs/dicomweb-clients.md, infra/proxy/haproxy.cfg). Roles start in order (ingest before viewer), so lent routes are there in time.
 */
export class SharedRoutes {
  private readonly dicomweb: Router[] = [];

  /** A router to mount under the public DICOMweb base as well. */
  lendDicomweb(router: Router): void {
    this.dicomweb.push(router);
  }

  /** The routers lent so far. */
  dicomwebRouters(): Router[] {
    return [...this.dicomweb];
  }
}
