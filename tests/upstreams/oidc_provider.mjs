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

// Keep stdout for the one ready line: oidc-provider writes its notices with
// console.info, and anything else might console.log.
for (const method of ['log', 'info', 'debug']) {
  console[method] = (...args) => console.error(...args);
}

// Generated once (crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }),
// exported as JWK). Test keys: never use them anywhere else.
const KEY_SETS = {
  1: {
    kty: 'RSA',
    kid: 'mcpo-test-key-1',
    alg: 'RS256',
    use: 'sig',
    n: 'wcJt1FGkqINSvK9DnuDjrziiYnsKU9rGbg2kwqs7tDQogVuXrtSCtjT_9a7EXkoGGi6jlqDj-AnFTRyXkjzAC5lc5o0spb0Q8_CUgZX_tYxB6fBhyjGH9Ipmp2yYTv6OAqUtZGaMgI275O660HEHd7jqfEvCYW9tWQBr9o1rW2Z4Pzhu2_xHiawpil4YGEzRMWql1SwhjQKgKzi78kD-q4qN-rr2CkRalF2kLFd-HFS5swLq94Vhe6v-al7b2oWZ_1xny5VyYbPmmMbngZU-XV5vES6tIF7BjMGslAXwi8i-E8DWtvQt7icVKyXw03KMfqfWIuAnBvZncCfsimOU6Q',
    e: 'AQAB',
    d: 'Su6nTOIaHLVUzPW23_227--mFRHiZ5WHAc6y9joEh-dX9tb2LT2wI0kR5_CjrpdQDtYUm88y-pzEudKh54Mo_hNccykLqDkbEkvrEsZwssRARXmaR_ipzG-tzXfY20vkna9Fg7uJALpPfPS6OJxNuAZCYLlnvgi6sB3SovIEH78ujgMdwObZF6RVBxgtrb6faMuyyKgUDoa36MlIE1O1sTJgZauV-_QQx-wRcca-puxthouAAj-BWuSzuMMy0ffxYkIDASBgNUYCmMKXH1GHyanlSWdpVjVMbqGLZXmGNkHXuf5jNC8XvMq0rJT5AyZkzdzlBW89-_4CKQhwrrfxhQ',
    p: '_D5qwcTIZW5ZMwo5DBoJePW0FRKFnc2NsdCKYB0z_f7koH9AVDseU0hDg3zJ6Hu_mhtP4ZOQu4pV61t_H2oEcvork5cRekAMJP8fY8OfT6KdwELa4xsHA16CLeHpTCOwuD5RlvPRoka78D2pZMUTDdr6PQUROKT_DMHDFybvess',
    q: 'xKUQGaGyOMPZNqUue60sHJhTFrs1KyENF6aI5Z5eRZ9Dn10d5Ek0LqER5u6ZY0TbqVrnTT-4Nc08btFFab57zj51C7oP2_6k9a5owr2PZnCjOEhI_oSAxnQqKYHKlofUVCKkejBCSuPYlGUm6w-ul9FOPUnYJhhkuNvhh0n5NJs',
    dp: 'j0FTmCCOPyzgc-BGbd0LrCq-z4jpYamv42Cwdc2gDYyJg61Bd5TrsBjGXxKsCODe_EKup0oLVLdH_JbGJ60qQbJatUOCpY9iVlCeHyamf6-3L83ISlq7LOqrvCslOBy87KZX6Aco86SAb_xVC-nw3FmU7LrIAQeT4kbY6XkvYOk',
    dq: 'ahz8bChySOl-fFt0ku6m4CNequSI02Y5b2rBcs8b5gwEbKnN6JOMIiFuzKQyh3vv4RqZuHjLCdVfaBlrkJ1mp6vSc2qLBlcKYz0jcPrjuA7ONR_kq9uKtgyXd-B_Fu3jKSesg_covsrm42UWNEA5Idmjk7UWe7AsIgkdUWkcnkM',
    qi: 'HFCbyrl92G73_DGAIPII_BxP7HFfjdfpTV-FbTsj_YMjMzJ2LwqzYHF075J4EDMsBmvA5bDqSG9zmOyg44FwyNmd5b3142SCFSEx0gHFIhja0FmQMlBNVtoJrFkmSGNBxs31jo1q49muPee_PlFPuRE1tPNpCf7Y4v6P7SLW8Go',
  },
  2: {
    kty: 'RSA',
    kid: 'mcpo-test-key-2',
    alg: 'RS256',
    use: 'sig',
    n: 'nljQKgp9qykhKAe_6yobx1Kb9cIH8MJGwd62zADacvO9EKmgT-gBDGzQT7WCi3hmtHxnh4j8VH3kt-Dmn4phuR3M5aIAFVFrulJZUZBFv9fJrYmdqPbNkPNLB3noiLL_SlGGZuX_qhOfa41sSbPVXBT5KPUc0BxJUJXJXSRx84pNO-fKOK-HGzGcfLVqOM1wEhksRktBbnjnpm2HgDg00Px75hRKmUuz_Lue3G7rMhnYOZOhI-_syJZR1fBjFB19tKV9jxU2DtCFIOzo7M9j4t1-RzFV7LAo4ABOc36eAhgn89Vsbc6qEpS_AFZhJfSJtS5tHJkADQdrzWdCsY_aaw',
    e: 'AQAB',
    d: 'z7QWJkJpYecq_SP6ALFui2xqWiZcqnIrkVUrpTl5UbX_Sg82bM1MksyPPzI-PecXN6f3WGrw9-NeU22uSMqiMZZLx7e3_dg1qf30Xm8TdSr-xtZWKxjEjF3Ipp91ZXPMN3y4nECu6DWh56Vm_0ZLMX3q75th_My3XmOCWBFDAS-8kTtsXOfhVIjKJGElYJUIhEZkXIkrkJYf6YPYbFUqVGFkbnrAx4jhTK9UKkkWwOX3ur5kNpkczv4LyXzV9EJRmEjAj1TcjrK6xxURHE3oO4fTVE9oej2pabZGx8SKQSWLrSRzRJCIy3ra44Yb04BrUJEEkeAlt6mkBDTpskkB',
    p: '3GIZZ6O_Vw4JTVRiHxjIfXgzrrOUDp7K6yh8uPJxGwhKoyC4L8ZDCcYqyLlau3XDCFXUr0vuamGVp00TCioaVMRR9UhqnXTvL9SxPo9CzmSismwI2DtrMrP0H8x5pVnrqxfqc-63duS8ff5z6b4YrQHqlLnNhhSbDbKlnBAR6-s',
    q: 't_AXRhLIDgXT5qf3vkYxKAsZtJZuEG2sZLUa6-AhEVm8lE1PTxPEdvTgjr36rrcDKki_63kGI91kpV3EBQXXpmHDVZ8wTCUeGmLKMU7vETIeFl58PuIs6tkfelxGSjZdIEqLlFCTT2rSkw-fiIVHKufg8UmQ1oar-vAHO11Wq4E',
    dp: 'p9IEKonlQPOtXbeuaKPEuNb59EVHr8J4H47bOzNTshQkUgiueaLuldjT57pOP4YzmHtT1JFr4pKhFZ95qjnZh0dgafpVRcYwBipfNpZ9dxHnWxstuQu2XAvxEO3yjFnnPoidvt6_0sfoScGknxBlVgmpisvamAnE8S9jMW6DVzU',
    dq: 'ESD7mdvv41ZpmEY2DPMOatM1zppfn4oHDs3KtwKFMc9wf0L_yrZlikpdiw1oBdMnKU3jCXOYvchFMh0cPvd_UJA0F4oefkjKl9xxRcw6-Rf4s06TNWvskOYtR0DGjuynGXW3r9UdEr045NcEnTsEGJvFV9Lo-QFLjK_DjKSxiIE',
    qi: 'ec1zCmFIWb_RBioTHWnDhesFVjQCxC79lySFD8MwRMnaq9YrUZmvNDx-HxqVor7kjejxb7rPbc03ipHBeUqJqV_2zDIc-x3TDQs1i3Ls9jyn3YGBVnkTvH8rnX5iBGsvfRuSfREWKKGIkPo2Bc7yUAFJAXNm6WozEvBMXJMAm3Y',
  },
};

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
