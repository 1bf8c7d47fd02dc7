// The Node driver's flow against strmlocal, run by rpc's TestNodeDriverFlow.
//
// @strmprivacy/nodejs-driver is not served by the package registry this
// project installs from, so this script speaks its wire itself, as the
// driver's 3.0.0 source does, with the driver's own dependencies: node's
// http2 client (prior knowledge on an http: URL, ":scheme: https" on every
// request), avsc for the Avro binary body and ws 7 for the egress.
//
// A Receiver on the derived stream connects first (the tail starts at the
// end of the stream), then a Sender sends STRM_EVENTS demo events, event i
// with consent level i % 4. Every event the Receiver gets is printed to
// stdout as one JSON line; it exits once it has STRM_EXPECT of them, or
// fails after STRM_TIMEOUT_MS.
//
// Environment: STRM_URL (the server's base URL), STRM_CLIENT_ID and
// STRM_CLIENT_SECRET (the source stream's), STRM_DERIVED_CLIENT_ID and
// STRM_DERIVED_CLIENT_SECRET, STRM_SCHEMA_FILE (the Avro schema of
// strmprivacy/demo/1.0.2), STRM_EVENTS, STRM_EXPECT, STRM_TIMEOUT_MS.
'use strict';

const fs = require('fs');
const http2 = require('http2');
const avro = require('avsc');
const WebSocket = require('ws');

const SCHEMA_REF = 'strmprivacy/demo/1.0.2';
const CONTRACT_REF = 'strmprivacy/example/1.3.0';
const TOKEN_PATH = '/auth/realms/streams/protocol/openid-connect/token';
// The driver refreshes this long before expires_at, and refuses a token
// that is already that close to it.
const SEC_BEFORE_EXPIRATION = 60;

function env(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`environment variable ${name} is not set`);
  }
  return v;
}

// post is the driver's HTTP/2 POST: 200 resolves with the parsed body, 204
// with no data, any other status rejects with {status, data}.
function post(session, path, body, headers) {
  return new Promise((resolve, reject) => {
    const buffer = Buffer.from(body);
    const req = session.request({
      ':scheme': 'https',
      ':method': 'POST',
      ':path': path,
      'content-length': buffer.length,
      ...headers,
    });
    req.setEncoding('utf8');
    let status;
    let contentType;
    const chunks = [];
    req.on('response', (h) => {
      status = parseInt(h[':status'], 10);
      contentType = h['content-type'];
    });
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const data = chunks.join('');
      if (status === 200) {
        resolve({ status, data: contentType.includes('application/json') ? JSON.parse(data) : data });
      } else if (status === 204) {
        resolve({ status });
      } else {
        reject(new Error(`${path}: status ${status}: ${data}`));
      }
    });
    req.on('error', reject);
    req.on('aborted', reject);
    req.end(buffer);
  });
}

// authenticate gets a token as the driver's Client.connect does: the form
// is concatenated, not encoded, on a session of its own.
async function authenticate(url, clientId, clientSecret) {
  const session = http2.connect(url);
  try {
    const { data } = await post(
      session,
      TOKEN_PATH,
      `grant_type=client_credentials&client_id=${clientId}&client_secret=${clientSecret}`,
      { 'content-type': 'application/x-www-form-urlencoded' }
    );
    for (const key of ['access_token', 'refresh_token', 'expires_at']) {
      if (data[key] === undefined) {
        throw new Error(`token response has no ${key}`);
      }
    }
    if (data.expires_at - Date.now() / 1000 - SEC_BEFORE_EXPIRATION < 0) {
      throw new Error('Token expired');
    }
    return data;
  } finally {
    session.close();
  }
}

// receive connects the Receiver: ws on <egressUrl>/ws?asJson=true with the
// bearer token, JSON.parse of every message. It resolves once the
// connection is open.
function receive(egressUrl, token, onEvent, onError) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${egressUrl}/ws?asJson=true`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    ws.on('open', () => resolve(ws));
    ws.on('unexpected-response', (_req, res) => reject(new Error(`Unexpected response: ${res.statusCode}`)));
    ws.on('error', onError);
    ws.on('message', (message) => {
      try {
        onEvent(JSON.parse(message));
      } catch (err) {
        onError(err);
      }
    });
  });
}

function demoEvent(i) {
  const s = `node-${i}`;
  return {
    strmMeta: {
      eventContractRef: CONTRACT_REF,
      nonce: null,
      timestamp: null,
      keyLink: null,
      billingId: null,
      consentLevels: [i % 4],
    },
    uniqueIdentifier: `unique-${s}`,
    consistentValue: s,
    someSensitiveValue: `sensitive-${s}`,
    notSensitiveValue: `plain-${s}`,
  };
}

async function main() {
  const url = env('STRM_URL');
  const egressUrl = url.replace(/^http/, 'ws');
  const events = parseInt(env('STRM_EVENTS'), 10);
  const expect = parseInt(env('STRM_EXPECT'), 10);
  const type = avro.Type.forSchema(JSON.parse(fs.readFileSync(env('STRM_SCHEMA_FILE'), 'utf8')));

  const fail = (err) => {
    process.stderr.write(`flow.js: ${err.stack || err}\n`);
    process.exit(1);
  };
  const timer = setTimeout(() => fail(new Error(`received fewer than ${expect} events in time`)), parseInt(env('STRM_TIMEOUT_MS'), 10));
  let received = 0;
  const receiverToken = await authenticate(url, env('STRM_DERIVED_CLIENT_ID'), env('STRM_DERIVED_CLIENT_SECRET'));
  const ws = await receive(egressUrl, receiverToken.access_token, (event) => {
    process.stdout.write(JSON.stringify(event) + '\n');
    if (++received === expect) {
      clearTimeout(timer);
      ws.close();
    }
  }, fail);

  const senderToken = await authenticate(url, env('STRM_CLIENT_ID'), env('STRM_CLIENT_SECRET'));
  // The Sender's one session for all events.
  const session = http2.connect(url);
  for (let i = 0; i < events; i++) {
    const { status } = await post(session, '/event', type.toBuffer(demoEvent(i)), {
      'content-type': 'application/octet-stream',
      'Strm-Serialization-Type': 'application/x-avro-binary',
      'Strm-Schema-Ref': SCHEMA_REF,
      Authorization: `Bearer ${senderToken.access_token}`,
    });
    if (status !== 204) {
      throw new Error(`event ${i}: status ${status}`);
    }
  }
  session.close();
  process.stderr.write(`flow.js: sent ${events} events\n`);
}

main().catch((err) => {
  process.stderr.write(`flow.js: ${err.stack || err}\n`);
  process.exit(1);
});
