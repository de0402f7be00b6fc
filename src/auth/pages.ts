/**
 * The sign-in and account pages: plain server-rendered HTML, usable without JavaScript, every value
 * from a request or a client escaped. The API key field is never filled in (the page never echoes
 * the key). Forms post back to the same URL with a CSRF token.
 */
export const SCOPES = ['flops:read', 'flops:write', 'flops:destroy'] as const;
export type Scope = (typeof SCOPES)[number];

const SCOPE_TEXT: Record<Scope, [string, string]> = {
  'flops:read': ['Read', 'list and inspect servers, tariffs, snapshots, backups and operations'],
  'flops:write': ['Change', 'create, start, stop, resize, rename, snapshot and back up servers'],
  'flops:destroy': ['Destroy', 'delete or reinstall servers, hard resets, roll back to snapshots'],
};

export const escapeHtml = (value: string): string =>
  value.replace(
    /[&<>"'`]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' })[c]!,
  );

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem;font-weight:600}
input[type=text],input[type=password]{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}
fieldset{border:1px solid #ccd;margin:1rem 0;padding:.5rem 1rem}fieldset label{font-weight:400}
button{font:inherit;padding:.5rem 1.2rem;margin:.8rem .5rem 0 0}.error{color:#a00;font-weight:600}
.muted{color:#556}table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem;border-bottom:1px solid #dde}`;

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>`;
}

function scopeBoxes(offered: readonly Scope[], checked: readonly Scope[]): string {
  return `<fieldset><legend>What the assistant may do</legend>${offered
    .map((s) => {
      const [name, what] = SCOPE_TEXT[s];
      // Read is what every tool needs: always granted.
      const fixed = s === 'flops:read';
      return `<label><input type="checkbox" name="scope" value="${s}"${checked.includes(s) || fixed ? ' checked' : ''}${fixed ? ' disabled' : ''}> <strong>${name}</strong>: ${what}</label>`;
    })
    .join(
      '',
    )}${offered.includes('flops:read') ? '<input type="hidden" name="scope" value="flops:read">' : ''}</fieldset>`;
}

export interface SignInPage {
  action: string;
  csrf: string;
  clientName: string;
  redirectHost: string;
  requested: readonly Scope[];
  /** The Flops client id to show again after an error (never the key). */
  flopsClientId?: string;
  /** Signed in already in this browser: only the choice of scopes. */
  signedInAs?: string;
  error?: string;
}

export function signInPage(p: SignInPage): string {
  const offered = SCOPES.filter((s) => p.requested.includes(s) || s === 'flops:read');
  const credentials = p.signedInAs
    ? `<p>Signed in with Flops client <strong>${escapeHtml(p.signedInAs)}</strong>.</p>
<p><button type="submit" name="action" value="switch" formnovalidate>Use other credentials</button></p>`
    : `<label for="client_id">Flops client id</label><input type="text" id="client_id" name="flops_client_id" required maxlength="64" autocomplete="username" value="${escapeHtml(p.flopsClientId ?? '')}">
<label for="api_key">Flops API key</label><input type="password" id="api_key" name="flops_api_key" required maxlength="256" autocomplete="current-password">
<p class="muted">The key is checked with one read at Flops, then kept encrypted on this server. It is never shown again, logged, or put in a token.</p>`;
  return page(
    'Sign in to Flops',
    `<h1>Connect ${escapeHtml(p.clientName)} to your Flops servers</h1>
<p class="muted">After sign-in you return to <strong>${escapeHtml(p.redirectHost)}</strong>.</p>
${p.error ? `<p class="error" role="alert">${escapeHtml(p.error)}</p>` : ''}
<form method="post" action="${escapeHtml(p.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(p.csrf)}">
${credentials}
${scopeBoxes(offered, p.requested)}
<button type="submit" name="action" value="allow">Allow</button><button type="submit" name="action" value="deny" formnovalidate>Deny</button>
</form>
<p class="muted"><a href="/oauth/account">Manage or revoke access</a></p>`,
  );
}

export interface Connection {
  clientId: string;
  client: string;
  scopes: readonly string[];
  expires: string;
}

export interface AccountPage {
  csrf: string;
  /** Signed in: the Flops client id and the connections; otherwise the sign-in form. */
  account?: { flopsClientId: string; connections: readonly Connection[] };
  message?: string;
  error?: string;
}

export function accountPage(p: AccountPage): string {
  const notice = `${p.message ? `<p role="status">${escapeHtml(p.message)}</p>` : ''}${p.error ? `<p class="error" role="alert">${escapeHtml(p.error)}</p>` : ''}`;
  const hidden = `<input type="hidden" name="csrf" value="${escapeHtml(p.csrf)}">`;
  if (!p.account) {
    return page(
      'Flops access',
      `<h1>Manage assistant access to Flops</h1>${notice}
<form method="post" action="/oauth/account">${hidden}<input type="hidden" name="action" value="login">
<label for="client_id">Flops client id</label><input type="text" id="client_id" name="flops_client_id" required maxlength="64" autocomplete="username">
<label for="api_key">Flops API key</label><input type="password" id="api_key" name="flops_api_key" required maxlength="256" autocomplete="current-password">
<button type="submit">Show my connections</button></form>`,
    );
  }
  const rows = p.account.connections
    .map(
      (c) =>
        `<tr><td>${escapeHtml(c.client)}</td><td>${escapeHtml(c.scopes.join(' '))}</td><td>${escapeHtml(c.expires)}</td><td><form method="post" action="/oauth/account">${hidden}<input type="hidden" name="client" value="${escapeHtml(c.clientId)}"><button type="submit" name="action" value="revoke">Revoke</button></form></td></tr>`,
    )
    .join('');
  return page(
    'Flops access',
    `<h1>Assistant access for Flops client ${escapeHtml(p.account.flopsClientId)}</h1>${notice}
${rows ? `<table><thead><tr><th>Assistant</th><th>May</th><th>Until</th><th></th></tr></thead><tbody>${rows}</tbody></table>` : '<p>No assistant is connected.</p>'}
<form method="post" action="/oauth/account">${hidden}<button type="submit" name="action" value="revoke-all">Revoke all and forget my API key</button>
<button type="submit" name="action" value="logout">Sign out of this page</button></form>`,
  );
}

export function messagePage(title: string, message: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`);
}

export function credentialsPage(p: {
  action: string;
  csrf: string;
  error?: string;
  flopsClientId?: string;
}): string {
  return page(
    'Flops credentials',
    `<h1>Your Flops credentials</h1>
<p class="muted">Entered once: checked with one read at Flops, then kept encrypted on this server for your account. Never shown again, logged, or put in a token.</p>
${p.error ? `<p class="error" role="alert">${escapeHtml(p.error)}</p>` : ''}
<form method="post" action="${escapeHtml(p.action)}"><input type="hidden" name="csrf" value="${escapeHtml(p.csrf)}">
<label for="client_id">Flops client id</label><input type="text" id="client_id" name="flops_client_id" required maxlength="64" autocomplete="username" value="${escapeHtml(p.flopsClientId ?? '')}">
<label for="api_key">Flops API key</label><input type="password" id="api_key" name="flops_api_key" required maxlength="256" autocomplete="current-password">
<button type="submit">Save</button></form>`,
  );
}
