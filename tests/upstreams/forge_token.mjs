#!/usr/bin/env node
// Tokens a real provider never issues, for the caller-identity tests to show
// that the proxy refuses them (tests/identity.rs):
//
//   node tests/upstreams/forge_token.mjs KIND ISSUER AUDIENCE SUBJECT
//
//   expired     RS256 with the provider's key set 1, expired two minutes ago
//               (beyond the proxy's 60 s leeway)
//   none        `alg: none`, no signature
//   hs-public   HS256 whose HMAC key is key set 1's public JWK (the classic
//               "verify with the public key as an HMAC secret" confusion)
//
// Prints the token on stdout.

import { createPublicKey } from 'node:crypto';

import { SignJWT, UnsecuredJWT, importJWK } from 'jose';

import { KEY_SETS } from './oidc_keys.mjs';

const [kind, issuer, audience, subject] = process.argv.slice(2);
if (!subject) {
  process.stderr.write('usage: forge_token.mjs expired|none|hs-public ISSUER AUDIENCE SUBJECT\n');
  process.exit(2);
}
const now = Math.floor(Date.now() / 1000);
const claims = { role: 'admin', email: `${subject}@example.com` };
const key = KEY_SETS[1];
let token;
if (kind === 'expired') {
  token = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'at+jwt' })
    .setIssuer(issuer).setAudience(audience).setSubject(subject)
    .setIssuedAt(now - 600).setExpirationTime(now - 120)
    .sign(await importJWK(key, 'RS256'));
} else if (kind === 'none') {
  token = new UnsecuredJWT(claims)
    .setIssuer(issuer).setAudience(audience).setSubject(subject)
    .setIssuedAt(now).setExpirationTime(now + 300)
    .encode();
} else if (kind === 'hs-public') {
  const { d, p, q, dp, dq, qi, ...publicJwk } = key;
  const secret = Buffer.from(JSON.stringify(createPublicKey({ key: publicJwk, format: 'jwk' }).export({ format: 'jwk' })));
  token = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', kid: key.kid })
    .setIssuer(issuer).setAudience(audience).setSubject(subject)
    .setIssuedAt(now).setExpirationTime(now + 300)
    .sign(secret);
} else {
  process.stderr.write(`unknown kind ${kind}\n`);
  process.exit(2);
}
process.stdout.write(`${token}\n`);
