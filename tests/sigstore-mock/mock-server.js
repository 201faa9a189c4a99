// Offline Sigstore stand-in: @sigstore/mock@0.12.1's Fulcio, Rekor (v1) and
// TSA served over plain HTTP on HOST (127.0.0.1 by default), plus the trust material that a
// verifier needs, written next to it.
//
//   node mock-server.js OUTDIR [PORT] [HOST]
//
// Writes OUTDIR/trusted_root.json, OUTDIR/signing_config.json,
// OUTDIR/trust_config.json (sigstore-python's --trust-config),
// OUTDIR/{fulcio_root.pem,ctlog.pub,rekor.pub,tsa_chain.pem} (cosign's
// SIGSTORE_* env files) and OUTDIR/ready once listening.
//
// Routes: POST /api/v2/signingCert and /api/v1/signingCert (Fulcio),
// POST /api/v1/log/entries (Rekor v1), POST /api/v1/timestamp (RFC 3161: DER
// TimeStampReq in, DER TimeStampResp out), GET /actions-oidc (a stand-in for
// GitHub's ACTIONS_ID_TOKEN_REQUEST_URL that hands out a fake token). The mock Fulcio does NOT check the OIDC token's
// signature: any JWT with the right claims gets a certificate.
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const mock = require('@sigstore/mock');
const pkijs = require('pkijs');

const outDir = path.resolve(process.argv[2] || 'out');
const port = Number(process.argv[3] || 8099);
const host = process.argv[4] || '127.0.0.1';
const base = `http://${host}:${port}`;
fs.mkdirSync(outDir, { recursive: true });
fs.rmSync(path.join(outDir, 'ready'), { force: true });

const gen = () => crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const b64 = (buf) => Buffer.from(buf).toString('base64');
const pem = (label, der) =>
  `-----BEGIN ${label}-----\n${b64(der).match(/.{1,64}/g).join('\n')}\n-----END ${label}-----\n`;

// Real Fulcio puts https://github.com/<job_workflow_ref> in the SAN for
// GitHub Actions tokens; the mock takes the SAN from one claim, so the
// request's JWT is rewritten with a synthetic claim holding that value.
// The token comes in the body (cosign) or as "Authorization: Bearer"
// (sigstore-python, as real Fulcio allows).
function rewriteToken(body, authorization) {
  const json = JSON.parse(body);
  json.credentials = json.credentials || {};
  const tok = json.credentials.oidcIdentityToken || String(authorization || '').replace(/^Bearer\s+/i, '');
  // Real Fulcio's JSON carries the CSR as base64(PEM); the mock wants PEM.
  const csr = json.certificateSigningRequest;
  if (csr && !csr.startsWith('-----BEGIN')) json.certificateSigningRequest = Buffer.from(csr, 'base64').toString();
  const [h, p, s] = tok.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  claims.x_san = claims.job_workflow_ref
    ? `https://github.com/${claims.job_workflow_ref}`
    : claims.email || claims.sub;
  json.credentials.oidcIdentityToken = [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s || 'x'].join('.');
  return JSON.stringify(json);
}

// A GitHub-Actions-shaped OIDC token (HS256 with a throwaway key: nothing
// here checks it). The request's `repo` query parameter, else MOCK_REPO
// (default acme/app), and MOCK_WORKFLOW (default
// release.yml) set the identity: https://github.com/<repo>/.github/workflows/<wf>@refs/heads/main
function fakeGithubToken(aud, repoAsked) {
  const repo = repoAsked || process.env.MOCK_REPO || 'acme/app';
  const wf = `${repo}/.github/workflows/${process.env.MOCK_WORKFLOW || 'release.yml'}@refs/heads/main`;
  const now = Math.floor(Date.now() / 1000), sha = '0123456789abcdef0123456789abcdef01234567';
  const claims = {
    iss: 'https://token.actions.githubusercontent.com', aud, sub: `repo:${repo}:ref:refs/heads/main`,
    iat: now, nbf: now, exp: now + 600, repository: repo, repository_owner: repo.split('/')[0],
    ref: 'refs/heads/main', sha, workflow: 'release', event_name: 'push', job_workflow_ref: wf,
    job_workflow_sha: sha, workflow_ref: wf, workflow_sha: sha, runner_environment: 'github-hosted',
    run_id: '42', run_attempt: '1', repository_id: '1', repository_owner_id: '1', repository_visibility: 'public',
  };
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(claims)}`;
  return `${unsigned}.${crypto.createHmac('sha256', 'not-a-secret').update(unsigned).digest('base64url')}`;
}

function tsaRequestFromDER(der) {
  const req = pkijs.TimeStampReq.fromBER(new Uint8Array(der).buffer);
  return {
    artifactHash: Buffer.from(req.messageImprint.hashedMessage.valueBlock.valueHexView),
    hashAlgorithmOID: req.messageImprint.hashAlgorithm.algorithmId,
    // keep the nonce's bytes: clients send 64-bit nonces, past JS numbers
    nonceHex: req.nonce ? Buffer.from(req.nonce.valueBlock.valueHexView) : undefined,
    policyOID: req.reqPolicy || '1.3.6.1.4.1.57264.2',
    certReq: req.certReq ?? false,
  };
}

// The mock proves inclusion in a one-leaf tree (logIndex 0, no hashes). Go
// clients (cosign) drop those zero values from the bundle's protobuf JSON,
// and sigstore-python then rejects the bundle ("inclusionProof.logIndex:
// Field required"). Real Rekor never answers like that past its first entry,
// so the response is rewritten to a two-leaf tree: a made-up leaf 0, ours at
// index 1, and a checkpoint re-signed with the log's key.
let rekorKeyPair, rekorHost;
function twoLeafProof(response) {
  const sha = (...b) => crypto.createHash('sha256').update(Buffer.concat(b)).digest();
  const json = JSON.parse(response);
  for (const entry of Object.values(json)) {
    const body = Buffer.from(entry.body, 'base64');
    const leaf = sha(Buffer.from([0]), body);
    const sibling = sha(Buffer.from([0]), Buffer.from('an earlier entry'));
    const root = sha(Buffer.from([1]), sibling, leaf);
    const logID = sha(rekorKeyPair.publicKey.export({ format: 'der', type: 'spki' }));
    const note = [`${rekorHost} - 1`, '2', root.toString('base64'), `Timestamp: ${entry.integratedTime * 1e9}`, ''].join('\n');
    const sig = crypto.sign('sha256', Buffer.from(note), rekorKeyPair.privateKey);
    const line = `\u2014 ${rekorHost} ${Buffer.concat([logID.subarray(0, 4), sig]).toString('base64')}`;
    entry.verification.inclusionProof = {
      logIndex: 1, treeSize: 2, rootHash: root.toString('hex'), hashes: [sibling.toString('hex')],
      checkpoint: [note, line, ''].join('\n'),
    };
  }
  return JSON.stringify(json);
}

// The mock logs the proposed entry as it came. Real Rekor logs a dsse
// v0.0.1 entry in canonical form (hashes of the envelope and payload, the
// signature and its verifier), and sigstore-python checks the logged body
// against the bundle's envelope, so that transformation is done here.
// Rekor also re-encodes the certificate or key it logs as Go's pem.Encode
// does (LF, 64 columns); sigstore-python compares the logged body with its
// own encoding, so a client that sends CRLF PEM (sigstore-rust) would fail
// against the mock where it passes against real Rekor.
function normalizePemB64(b64pem) {
  const text = Buffer.from(b64pem, 'base64').toString();
  const m = /-----BEGIN ([^-]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (!m) return b64pem;
  const body = m[2].replace(/\s+/g, '');
  return Buffer.from(`-----BEGIN ${m[1]}-----\n${body.match(/.{1,64}/g).join('\n')}\n-----END ${m[1]}-----\n`).toString('base64');
}
function canonicalDsse(body) {
  const entry = JSON.parse(body);
  if (entry.kind === 'hashedrekord' && entry.spec && entry.spec.signature && entry.spec.signature.publicKey) {
    entry.spec.signature.publicKey.content = normalizePemB64(entry.spec.signature.publicKey.content);
    return JSON.stringify(entry);
  }
  const pc = entry.kind === 'dsse' && entry.spec && entry.spec.proposedContent;
  if (!pc) return body;
  const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
  const env = JSON.parse(pc.envelope);
  return JSON.stringify({
    apiVersion: entry.apiVersion, kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha(Buffer.from(pc.envelope)) },
      payloadHash: { algorithm: 'sha256', value: sha(Buffer.from(env.payload, 'base64')) },
      signatures: env.signatures.map((sig, i) => ({ signature: sig.sig, verifier: normalizePemB64(pc.verifiers[Math.min(i, pc.verifiers.length - 1)]) })),
    },
  });
}

async function main() {
  const caKey = gen(), ctKey = gen(), rekorKey = gen(), tsaKey = gen();
  const ctlog = await mock.initializeCTLog(ctKey);
  const ca = await mock.initializeCA(caKey, ctlog);
  const fulcio = mock.fulcioHandler(ca, { strict: true, subjectClaim: 'x_san' });
  const tlog = await mock.initializeTLog(base, rekorKey);
  rekorKeyPair = rekorKey; rekorHost = new URL(base).host;
  const rekor = mock.rekorHandler(tlog, { strict: true });
  const tsa = await mock.initializeTSA(tsaKey);
  // With milliseconds, the mock's TSTInfo genTime is not valid DER
  // GeneralizedTime for strict parsers (sigstore-rust: "malformed ASN.1 DER
  // value for GeneralizedTime"); whole seconds are.
  tsa.getCurrentTime = () => new Date(Math.floor(Date.now() / 1000) * 1000);
  const asn1js = require('asn1js');
  const tstInfo = tsa.tstInfo.bind(tsa);
  tsa.tstInfo = (r) => {
    const info = tstInfo({ ...r, nonce: r.nonce || 1 });
    if (r.nonceHex) info.nonce = new asn1js.Integer({ valueHex: r.nonceHex });
    else if (r.nonce === undefined) delete info.nonce;
    return info;
  };

  const start = new Date(Date.now() - 60 * 1000).toISOString();
  const spki = (k) => k.publicKey.export({ format: 'der', type: 'spki' });
  const keyId = (der) => b64(crypto.createHash('sha256').update(der).digest());
  const tlogEntry = (url, der) => ({
    baseUrl: url,
    hashAlgorithm: 'SHA2_256',
    publicKey: { rawBytes: b64(der), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
    logId: { keyId: keyId(der) },
  });
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [tlogEntry(base, spki(rekorKey))],
    certificateAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
      uri: base,
      certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
      validFor: { start },
    }],
    ctlogs: [tlogEntry(base, spki(ctKey))],
    timestampAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'sigstore-tsa' },
      uri: base,
      certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] },
      validFor: { start },
    }],
  };
  const svc = (url, v) => ({ url, majorApiVersion: v, validFor: { start }, operator: 'sigstore.mock' });
  const signingConfig = {
    mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
    caUrls: [svc(base, 1)],
    oidcUrls: [],
    rekorTlogUrls: [svc(base, 1)],
    tsaUrls: process.env.MOCK_NO_TSA ? [] : [svc(`${base}/api/v1/timestamp`, 1)],
    rekorTlogConfig: { selector: 'ANY' },
    tsaConfig: { selector: 'ANY' },
  };
  const w = (f, s) => fs.writeFileSync(path.join(outDir, f), typeof s === 'string' ? s : JSON.stringify(s, null, 2) + '\n');
  w('trusted_root.json', trustedRoot);
  w('signing_config.json', signingConfig);
  w('trust_config.json', {
    mediaType: 'application/vnd.dev.sigstore.clienttrustconfig.v0.1+json',
    trustedRoot, signingConfig,
  });
  w('fulcio_root.pem', pem('CERTIFICATE', ca.rootCertificate));
  w('ctlog.pub', pem('PUBLIC KEY', spki(ctKey)));
  w('rekor.pub', pem('PUBLIC KEY', spki(rekorKey)));
  w('tsa_chain.pem', pem('CERTIFICATE', tsa.intCertificate) + pem('CERTIFICATE', tsa.rootCertificate));

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const url = req.url.split('?')[0];
      let out;
      try {
        if (req.method === 'POST' && url === '/api/v2/signingCert') {
          out = await fulcio.fn(rewriteToken(body.toString(), req.headers.authorization));
        } else if (req.method === 'POST' && url === '/api/v1/signingCert') {
          // Fulcio's legacy v1 API, which cosign 2.5 uses: base64(PEM) public
          // key in, PEM chain (leaf first, SCT embedded) out.
          const v1 = JSON.parse(body.toString());
          const v2 = { publicKeyRequest: { publicKey: { content: Buffer.from(v1.publicKey.content, 'base64').toString() } } };
          const r = await fulcio.fn(rewriteToken(JSON.stringify(v2), req.headers.authorization));
          out = r.statusCode !== 201 ? r : {
            statusCode: 201,
            response: JSON.parse(r.response).signedCertificateEmbeddedSct.chain.certificates.join(''),
            contentType: 'application/pem-certificate-chain',
          };
        } else if (req.method === 'POST' && url === '/api/v1/log/entries') {
          out = await rekor.fn(canonicalDsse(body.toString()));
          if (out.statusCode === 201) out.response = twoLeafProof(out.response);
        } else if (req.method === 'POST' && url === '/api/v1/timestamp') {
          const r = (req.headers['content-type'] || '').includes('json')
            ? (() => { const j = JSON.parse(body); return { artifactHash: Buffer.from(j.artifactHash, 'base64'), hashAlgorithmOID: '2.16.840.1.101.3.4.2.1', nonce: j.nonce || 1234567890, policyOID: '1.3.6.1.4.1.57264.2', certReq: !!j.certificates }; })()
            : tsaRequestFromDER(body);
          out = { statusCode: 201, response: await tsa.timestamp(r), contentType: 'application/timestamp-reply' };
        } else if (req.method === 'GET' && url === '/actions-oidc') {
          // Stand-in for GitHub's ACTIONS_ID_TOKEN_REQUEST_URL: point that at
          // http://HOST:PORT/actions-oidc?api-version=2.0 (the client
          // appends &audience=sigstore); any bearer token is accepted.
          const q = new URL(req.url, base).searchParams;
          out = /^bearer\s+\S/i.test(req.headers.authorization || '')
            ? { statusCode: 200, response: JSON.stringify({ value: fakeGithubToken(q.get('audience') || 'sigstore', q.get('repo')) }), contentType: 'application/json' }
            : { statusCode: 401, response: 'missing bearer token\n' };
        } else if (req.method === 'GET' && url === '/api/v1/timestamp/certchain') {
          out = { statusCode: 200, response: fs.readFileSync(path.join(outDir, 'tsa_chain.pem')), contentType: 'application/pem-certificate-chain' };
        } else {
          out = { statusCode: 404, response: `no mock route for ${req.method} ${url}\n` };
        }
      } catch (e) {
        out = { statusCode: 500, response: String(e && e.stack || e) };
      }
      console.log(`${new Date().toISOString()} ${req.method} ${url} -> ${out.statusCode}${out.statusCode >= 400 ? ' ' + String(out.response).slice(0, 300) : ''}`);
      res.writeHead(out.statusCode, { 'Content-Type': out.contentType || 'text/plain' });
      res.end(out.response);
    });
  });
  server.listen(port, host, () => {
    fs.writeFileSync(path.join(outDir, 'ready'), `${base}\n`);
    console.log(`sigstore mock listening on ${base}; trust material in ${outDir}`);
  });
}
main().catch((e) => { console.error(e); process.exit(1); });
