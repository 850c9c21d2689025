import { contentSecurityPolicy } from '@yunying/http';
import { escapeHtml } from './html';

/**
 * The sign-in page of the OIDC login interaction: plain HTML, no script or inline style (the CSP allows
 * neither), posting to the interaction's login action. Shows the client id so users see who asks.
 */
export function loginPage(view: { action: string; clientId: string; error?: string }): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in - Yunying</title></head>
<body>
<main>
<h1>Yunying</h1>
<p>Sign in to continue to <strong>${escapeHtml(view.clientId)}</strong>.</p>
${view.error ? `<p role="alert">${escapeHtml(view.error)}</p>` : ''}
<form method="post" action="${escapeHtml(view.action)}">
<label>Username <input name="username" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>
</main>
</body></html>
`;
}

/** The service CSP with form-action widened to the registered clients' origins (the redirect after sign-in). */
export function contentSecurityPolicyFor(clientOrigins: readonly string[]): string {
  return contentSecurityPolicy()
    .split('; ')
    .map((d) => (d.startsWith('form-action ') ? ['form-action', "'self'", ...clientOrigins].join(' ') : d))
    .join('; ');
}
