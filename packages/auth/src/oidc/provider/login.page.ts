import { contentSecurityPolicy } from '@yunying/http';
import { qrSvgMarkup } from '../../qr';
import { escapeHtml } from './html';

/** The second step of a sign-in that needs a one-time code (#17): the challenge, and for enrolment the key. */
export interface SecondFactorView {
  challenge: string;
  enrolment?: { secret: string; uri: string };
}

const head = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Sign in - Yunying</title></head>
<body>
<main>
<h1>Yunying</h1>`;

/** The key in groups of four, as authenticator apps show it, so it can be typed in by hand. */
function groupedKey(secret: string): string {
  return (secret.match(/.{1,4}/g) ?? []).join(' ');
}

function secondFactorForm(action: string, view: SecondFactorView): string {
  const enrolment = view.enrolment
    ? `<section aria-label="Set up a one-time code generator">
<p>Your role needs a one-time code at every sign-in. Add this account to an authenticator app (scan the code with the phone, open the link on it, or type the key), then enter the code it shows.</p>
<p>${qrSvgMarkup(view.enrolment.uri, 'QR code of the key, for an authenticator app')}</p>
<p>Key: <code data-testid="totp-secret">${escapeHtml(groupedKey(view.enrolment.secret))}</code></p>
<p><a href="${escapeHtml(view.enrolment.uri)}" data-testid="totp-uri">Add to an authenticator app</a></p>
</section>`
    : '';
  return `${enrolment}
<form method="post" action="${escapeHtml(action)}">
<input type="hidden" name="challenge" value="${escapeHtml(view.challenge)}">
${
  view.enrolment
    ? '<label>One-time code <input name="totp" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required autofocus></label>'
    : '<label>One-time code or a recovery code <input name="totp" autocomplete="one-time-code" pattern="[0-9]{6}|[0-9A-Za-z -]{10,13}" maxlength="13" required autofocus></label>'
}
<button type="submit">${view.enrolment ? 'Confirm and sign in' : 'Sign in'}</button>
</form>`;
}

/**
 * The sign-in page of the OIDC login interaction: plain HTML, no script or inline style (the CSP allows
 * neither), posting to the interaction's login action. Shows the client id so users see who asks. With
 * `secondFactor`, the code step instead of user name and password.
 */
export function loginPage(view: { action: string; clientId: string; error?: string; secondFactor?: SecondFactorView }): string {
  const form = view.secondFactor
    ? secondFactorForm(view.action, view.secondFactor)
    : `<form method="post" action="${escapeHtml(view.action)}">
<label>Username <input name="username" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>
</form>`;
  return `${head}
<p>Sign in to continue to <strong>${escapeHtml(view.clientId)}</strong>.</p>
${view.error ? `<p role="alert">${escapeHtml(view.error)}</p>` : ''}
${form}
</main>
</body></html>
`;
}

/**
 * After a sign-in that must tell the user something once: the recovery codes of a generator set up just now (shown
 * here and nowhere else), or how many are left after one was used. A plain link continues to the client.
 */
export function secondFactorNoticePage(view: { clientId: string; continueUrl: string; recoveryCodes?: readonly string[]; recoveryCodesLeft?: number }): string {
  const codes = view.recoveryCodes
    ? `<section aria-label="Recovery codes">
<h2>Save your recovery codes</h2>
<p>Each code signs you in once in place of the one-time code, if you lose the phone. Keep them somewhere safe (printed, or in a password manager): they are shown only now.</p>
<ul data-testid="recovery-codes">${view.recoveryCodes.map((code) => `<li><code>${escapeHtml(code)}</code></li>`).join('')}</ul>
</section>`
    : '';
  const left =
    view.recoveryCodesLeft !== undefined
      ? `<p role="status" data-testid="recovery-codes-left">You signed in with a recovery code. ${view.recoveryCodesLeft} left${
          view.recoveryCodesLeft <= 3 ? ': make a new set in the Yunying web app (it offers one after such a sign-in) or ask an administrator to reset your second factor.' : '.'
        }</p>`
      : '';
  return `${head}
${codes}${left}
<p><a href="${escapeHtml(view.continueUrl)}" data-testid="continue">Continue to ${escapeHtml(view.clientId)}</a></p>
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
