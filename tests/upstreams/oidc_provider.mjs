#!/usr/bin/env node
// A real OpenID provider for the caller-identity end-to-end tests: oidc-provider
// 9.13.3 (pinned in tests/upstreams/package.json, installed by
// scripts/setup-test-deps.sh with npm ci), configured for the OAuth 2.0
// client_credentials grant with resource indicators (RFC 8707), issuing
// RS256-signed JWT access tokens (RFC 9068, header typ "at+jwt").
//
//   node tests/upstreams/oidc_provider.mjs --port PORT [--keys 1|2|1,2]
//                                          [--access-token-ttl SECONDS]
//
//   --port               listen on 127.0.0.1:PORT; the issuer is http://127.0.0.1:PORT
//                        (no trailing slash; plain http is allowed by oidc-provider,
//                        and tokens carry `iss` exactly so)
//   --keys               the fixed RSA signing key set (default 1):
//                          1    kid "mcpo-test-key-1"
//                          2    kid "mcpo-test-key-2"
//                          1,2  both published in the JWKS; the first one listed signs
//                        Restart on the same port with another set to rotate keys.
//   --access-token-ttl   access token lifetime in seconds (default 300)
//
// Once listening it prints exactly one line to stdout,
//   oidc-provider listening on http://127.0.0.1:PORT
// and nothing else ever (oidc-provider's own notices go to stderr).
//
// Endpoints (as named by the discovery document):
//   GET  /.well-known/openid-configuration   discovery
//   GET  /jwks                               the public keys (jwks_uri)
//   POST /token                              token_endpoint
//
// Clients, one per user, confidential, authenticated with HTTP basic auth
// (client_secret_basic), grant client_credentials only:
//   client_id  secret        sub    email              role   groups
//   alice      alice-secret  alice  alice@example.com  admin  ["ops","dev"]
//   bob        bob-secret    bob    bob@example.org    user   ["dev"]
//
// Getting a token (the resource names the audience; any absolute URI without a
// fragment is accepted, e.g. the proxy's base URL http://127.0.0.1:9999/):
//
//   curl -s -u alice:alice-secret http://127.0.0.1:PORT/token \
//     -d grant_type=client_credentials \
//     --data-urlencode resource=http://127.0.0.1:9999/ \
//     --data-urlencode 'scope=tools:call'
//
// i.e. POST /token, Content-Type application/x-www-form-urlencoded, body
// `grant_type=client_credentials&resource=<AUD>&scope=tools:call` (scope may
// list several of `tools:read tools:call admin`, space separated; others are
// dropped; none gives a token with no `scope` claim), header
// `Authorization: Basic base64(alice:alice-secret)`. The answer:
//   {"access_token":"eyJ...","expires_in":300,"token_type":"Bearer","scope":"tools:call"}
// Without `resource` oidc-provider issues an opaque token instead: always send one.
// Exactly one resource per request (oidc-provider's rule for this grant).
//
// The access token (JWS, alg RS256, kid of the signing key, typ at+jwt) carries:
//   iss        http://127.0.0.1:PORT
//   sub        the client id = the user name (oidc-provider sets `sub` itself,
//              to the client id, for client_credentials tokens; extra claims
//              cannot override it, so the client ids are the user names)
//   aud        the resource, exactly as sent
//   client_id  same as sub
//   scope      the granted scopes (absent when none)
//   email, role, groups   the user's (table above), from extraTokenClaims
//   jti, iat, exp
//
// Tokens are kept in memory only (oidc-provider's default adapter): a restart
// forgets them, which does not matter for JWTs a resource server checks itself.

import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

import { KEY_SETS } from './oidc_keys.mjs';

// Keep stdout for the one ready line: oidc-provider writes its notices with
// console.info, and anything else might console.log.
for (const method of ['log', 'info', 'debug']) {
  console[method] = (...args) => console.error(...args);
}

const USERS = {
  alice: {
    secret: 'alice-secret', email: 'alice@example.com', role: 'admin', groups: ['ops', 'dev'],
  },
  bob: {
    secret: 'bob-secret', email: 'bob@example.org', role: 'user', groups: ['dev'],
  },
};

const RESOURCE_SCOPES = 'tools:read tools:call admin';

function fail(message) {
  process.stderr.write(`oidc_provider.mjs: ${message}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    keys: { type: 'string', default: '1' },
    'access-token-ttl': { type: 'string', default: '300' },
  },
  strict: true,
});

const port = Number(values.port);
if (!Number.isInteger(port) || port <= 0 || port > 65535) fail('--port PORT is required');
const keyIds = values.keys.split(',');
if (!keyIds.length || keyIds.some((id) => !(id in KEY_SETS))) fail('--keys must be 1, 2, 1,2 or 2,1');
const ttl = Number(values['access-token-ttl']);
if (!Number.isInteger(ttl) || ttl <= 0) fail('--access-token-ttl must be a positive integer');

const keys = keyIds.map((id) => KEY_SETS[id]);
const signingKid = keys[0].kid;
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: Object.entries(USERS).map(([name, user]) => ({
    client_id: name,
    client_secret: user.secret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  jwks: { keys },
  scopes: ['openid', ...RESOURCE_SCOPES.split(' ')],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // No default: a request without `resource` gets an opaque token.
      defaultResource: () => undefined,
      useGrantedResource: () => false,
      getResourceServerInfo: (ctx, resourceIndicator) => ({
        scope: RESOURCE_SCOPES,
        audience: resourceIndicator,
        accessTokenTTL: ttl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256', kid: signingKid } },
      }),
    },
  },
  ttl: {
    ClientCredentials: ttl,
    AccessToken: ttl,
  },
  extraTokenClaims(ctx, token) {
    const user = USERS[token.clientId];
    if (!user) return undefined;
    return { email: user.email, role: user.role, groups: user.groups };
  },
});

provider.on('server_error', (ctx, error) => {
  process.stderr.write(`oidc_provider.mjs: server_error: ${error?.stack || error}\n`);
});

const server = provider.listen(port, '127.0.0.1', () => {
  process.stdout.write(`oidc-provider listening on ${issuer}\n`);
});
server.on('error', (error) => fail(`cannot listen on 127.0.0.1:${port}: ${error.message}`));

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
