#!/usr/bin/env node
// A Five Chains lender client in Node.js, written from docs/protocol.md and docs/vectors/ alone,
// with Node's own crypto (Ed25519, SHA-256) and fetch: no SDK, no package.
//
// It first checks itself against the test vectors (so a wrong byte is found before any request),
// then deposits a batch, checks the receipt's signature, reads each deposit's status with signed
// reads until it is sealed (checking the inclusion proof against the signed checkpoint) and then
// until its deposit code arrives (checking the code's check character). It prints one JSON object.
//
//   node clients/node/deposit-client.mjs --server http://127.0.0.1:8000 --lender L1 --key lender.key \
//        [--vectors docs/vectors] [--count 3] [--timeout 60]
//   node clients/node/deposit-client.mjs --self-test [--vectors docs/vectors]

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");
const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

class ProtocolError extends Error {}

function check(condition, what) {
  if (!condition) throw new ProtocolError(what);
}

// --- bytes ----------------------------------------------------------------------------------

const sha256 = (data) => crypto.createHash("sha256").update(data).digest();
const b64 = (buf) => Buffer.from(buf).toString("base64");
const unb64 = (text) => {
  const buf = Buffer.from(text, "base64");
  check(buf.toString("base64") === text, `not canonical base64: ${text}`);
  return buf;
};

// RFC 8785 for the values a deposit holds (objects, arrays, strings, safe integers, booleans, null):
// keys sorted by UTF-16 code units (JavaScript's default sort), no spaces, JSON.stringify's strings and numbers.
function canonical(value) {
  if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
  if (value !== null && typeof value === "object") {
    return "{" + Object.keys(value).sort().map((k) => JSON.stringify(k) + ":" + canonical(value[k])).join(",") + "}";
  }
  if (typeof value === "number") check(Number.isSafeInteger(value), "only safe integers are sent");
  return JSON.stringify(value);
}

// --- Merkle trees (RFC 9162) -----------------------------------------------------------------

const leafHash = (data) => sha256(Buffer.concat([Buffer.from([0]), data]));
const nodeHash = (left, right) => sha256(Buffer.concat([Buffer.from([1]), left, right]));

function merkleRoot(leaves) {
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(merkleRoot(leaves.slice(0, k)), merkleRoot(leaves.slice(k)));
}

function rootFromInclusionProof(leaf, index, size, proof) {
  check(index < size, "index beyond the tree");
  let fn = BigInt(index), sn = BigInt(size - 1), r = leaf;
  for (const p of proof) {
    check(sn !== 0n, "inclusion proof too long");
    if ((fn & 1n) === 1n || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1n) === 0n) while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  check(sn === 0n, "inclusion proof too short");
  return r;
}

// --- keys, signatures, notes -----------------------------------------------------------------

const publicKeyFromRaw = (raw) => crypto.createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw]), format: "der", type: "spki" });
const privateKeyFromSeed = (seed) => crypto.createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: "der", type: "pkcs8" });
const sign = (key, text) => crypto.sign(null, Buffer.from(text, "utf8"), key);

// vkey "<name>+<8 hex key id>+base64(0x01 || 32-byte public key)"; the key id is SHA-256(name || "\n" || 0x01 || key)[:4]
function parseVkey(vkey) {
  const first = vkey.indexOf("+"), second = vkey.indexOf("+", first + 1);
  const name = vkey.slice(0, first), id = vkey.slice(first + 1, second), blob = unb64(vkey.slice(second + 1));
  check(blob.length === 33 && blob[0] === 0x01, "this client knows Ed25519 chain keys only (type 0x01)");
  const keyId = sha256(Buffer.concat([Buffer.from(name + "\n"), blob])).subarray(0, 4);
  check(keyId.toString("hex") === id, "the vkey's key id does not match its name and key");
  return { name, keyId, key: publicKeyFromRaw(blob.subarray(1)) };
}

// A signed note: text (ending in "\n"), a blank line, lines "— <name> base64(key id || signature)".
// Returns the text once a signature line of this key verifies.
function openNote(note, verifier) {
  const split = note.lastIndexOf("\n\n");
  check(split > 0, "a note has a blank line before its signatures");
  const text = note.slice(0, split + 1);
  let ok = false;
  for (const line of note.slice(split + 2).split("\n").filter((l) => l)) {
    const [dash, name, blob] = line.split(" ");
    check(dash === "\u2014", "a signature line starts with an em dash");
    const raw = unb64(blob);
    if (name !== verifier.name || !raw.subarray(0, 4).equals(verifier.keyId)) continue;
    check(crypto.verify(null, Buffer.from(text, "utf8"), verifier.key, raw.subarray(4)), `the signature of ${name} does not verify`);
    ok = true;
  }
  check(ok, "the note is not signed by the chain's key");
  return text;
}

// --- the signed and hashed forms of docs/protocol.md -------------------------------------------

function itemBytes(item) {
  const fields = { commitment_salt: item.commitment_salt, digest: item.digest, event_time_ms: item.event_time_ms,
                   loan_id: item.loan_id, record_type: item.record_type };
  if (item.metadata !== undefined && item.metadata !== null) fields.metadata = item.metadata;
  return Buffer.from(canonical(fields), "utf8");
}

const itemsRoot = (items) => merkleRoot(items.map((i) => leafHash(itemBytes(i))));

const requestText = (chainId, lenderId, nonce, timeMs, count, root) =>
  `fivechains.deposit-request/v2\nchain ${chainId}\nlender ${lenderId}\nnonce ${nonce}\ntime ${timeMs}\nitems ${count}\nroot ${b64(root)}\n`;

const readText = (chainId, lenderId, nonce, timeMs, method, target) =>
  `fivechains.read/v2\nchain ${chainId}\nlender ${lenderId}\nnonce ${nonce}\ntime ${timeMs}\n${method} ${target}\n`;

const receiptText = (chainId, lenderId, root, first, count, depositTime, sealBy) =>
  `fivechains.deposit-receipt/v2\nchain ${chainId}\nlender ${lenderId}\nrequest ${b64(root)}\nfirst ${first}\ncount ${count}\n` +
  `deposit-time ${depositTime}\nseal-by ${sealBy}\n`;

const entryBytes = (lenderId, item, depositTimeMs) => Buffer.from(canonical({
  commitment: sha256(itemBytes(item)).toString("hex"), deposit_time_ms: depositTimeMs, digest: item.digest,
  event_time_ms: item.event_time_ms, lender_id: lenderId, record_type: item.record_type }), "utf8");

function dammOk(code) {
  let interim = 0;
  for (const ch of code) {
    const value = ALPHABET.indexOf(ch);
    if (value < 0) return false;
    let doubled = interim << 1;
    if (doubled & 0x20) doubled ^= 0x25;
    interim = doubled ^ value;
  }
  return interim === 0 && code.length === 14;
}

function checkpointFields(text) {
  const [origin, size, root] = text.split("\n");
  return { origin, size: Number(size), root: unb64(root) };
}

// --- self-test against docs/vectors ----------------------------------------------------------

function selfTest(dir) {
  const load = (name) => JSON.parse(fs.readFileSync(path.join(dir, name), "utf8"));
  const req = load("deposit-request.json");
  const body = req.body;
  req.items.forEach((stated, n) => {
    const data = itemBytes(body.items[n]);
    check(data.toString("hex") === stated.canonical_hex, `vector item ${n}: canonical bytes differ`);
    check(leafHash(data).toString("hex") === stated.leaf_hash_hex, `vector item ${n}: leaf hash differs`);
    check(sha256(data).toString("hex") === stated.commitment_hex, `vector item ${n}: commitment differs`);
  });
  const root = itemsRoot(body.items);
  check(root.toString("hex") === req.items_root_hex, "vector: items root differs");
  const text = requestText(req.chain_id, body.lender_id, body.nonce, body.timestamp_ms, body.items.length, root);
  check(text === req.signed_text, "vector: request text differs");
  const lenderKey = privateKeyFromSeed(Buffer.from(req.lender_key.seed_hex, "hex"));
  check(b64(sign(lenderKey, text)) === req.signature_b64, "vector: request signature differs");
  const pem = crypto.createPrivateKey(req.lender_key.private_key_pkcs8_pem);
  check(b64(sign(pem, text)) === req.signature_b64, "vector: the PKCS#8 key signs differently");

  const read = load("signed-read.json");
  const rtext = readText(read.chain_id, read.lender_id, read.nonce, read.timestamp_ms, read.method, read.path_and_query);
  check(rtext === read.signed_text && b64(sign(lenderKey, rtext)) === read.signature_b64, "vector: signed read differs");

  const rc = load("receipt.json");
  const chainKey = parseVkey(rc.chain_key.vkey);
  const note = openNote(rc.answer.receipt, chainKey);
  const a = rc.answer;
  check(note === receiptText(a.chain_id, req.lender_id, root, a.items[0].index, a.items.length, a.deposit_time_ms, a.seal_by_ms),
        "vector: receipt text differs");

  const entries = load("public-entries.json");
  entries.entries.forEach((e, n) => {
    const data = entryBytes(req.lender_id, body.items[n], entries.deposit_time_ms);
    check(data.toString("hex") === e.supervision_entry_hex, `vector entry ${n}: bytes differ`);
    check(leafHash(data).toString("hex") === e.supervision_leaf_hash_hex, `vector entry ${n}: leaf hash differs`);
  });

  const ledger = load("ledger.json");
  const cp = checkpointFields(openNote(ledger.checkpoint.note, chainKey));
  check(cp.root.toString("hex") === ledger.root_hex, "vector: checkpoint root differs");
  for (const p of ledger.inclusion_proofs) {
    const r = rootFromInclusionProof(unb64(p.leaf_hash_b64), p.index, p.tree_size, p.hashes_b64.map(unb64));
    check(r.equals(cp.root), `vector: inclusion proof of ${p.index} does not lead to the root`);
  }
  openNote(ledger.block.note, chainKey);
  check(sha256(Buffer.from(ledger.block.note, "utf8")).toString("hex") === ledger.block.block_hash_hex, "vector: block hash differs");

  const codes = load("deposit-codes.json");
  for (const c of codes.codes) check(dammOk(c.code), `vector: code ${c.code} fails its check`);
  for (const c of codes.invalid) check(!dammOk(c.input), `vector: ${c.input} passes its check`);
  return "ok";
}

// --- talking to a supervision chain ----------------------------------------------------------

// Anything but the expected status fails with the chain's problem+json (type, status, detail) in the message.
async function expectStatus(response, status, what) {
  if (response.status === status) return response.json();
  throw new ProtocolError(`${what}: ${response.status} ${(await response.text()).slice(0, 300)}`);
}

async function signedGet(server, chainId, lenderId, key, target) {
  const nonce = crypto.randomBytes(16).toString("hex");
  const now = Date.now();
  const signature = b64(sign(key, readText(chainId, lenderId, nonce, now, "GET", target)));
  const response = await fetch(server + target, { headers: { "X-Lender-Id": lenderId, "X-Timestamp": String(now), "X-Nonce": nonce, "X-Signature": signature } });
  return expectStatus(response, 200, `signed read ${target}`);
}

async function run(args) {
  const server = args.server.replace(/\/$/, "");
  const lenderId = args.lender;
  const key = crypto.createPrivateKey(fs.readFileSync(args.key, "utf8"));
  const info = await expectStatus(await fetch(server + "/v1/chain"), 200, "GET /v1/chain");
  check(info.hash_suite === "sha256", "this client checks SHA-256 ledgers");
  const chainKey = parseVkey(info.vkey);
  check(chainKey.name === info.chain_id, "the chain's key is named after the chain");

  const now = Date.now();
  const run = crypto.randomBytes(4).toString("hex");
  const items = Array.from({ length: args.count }, (_, n) => ({
    digest: sha256(Buffer.from(`node client record ${run} ${n}`)).toString("hex"),
    record_type: n === 0 ? "contract" : "repayment",
    loan_id: `node-${run}-${n}`,
    event_time_ms: now - 60_000,
    commitment_salt: crypto.randomBytes(32).toString("hex"),
    ...(n === 0 ? { metadata: { channel: "node", branch: "天河", amount_fen: 125000 } } : {}),
  }));
  const nonce = crypto.randomBytes(16).toString("hex");
  const root = itemsRoot(items);
  const signature = b64(sign(key, requestText(info.chain_id, lenderId, nonce, now, items.length, root)));
  const body = { lender_id: lenderId, nonce, timestamp_ms: now, items, signature };
  const response = await fetch(server + "/v1/deposits", { method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", "Idempotency-Key": nonce } });
  const answer = await expectStatus(response, 202, "deposit");

  const receipt = openNote(answer.receipt, chainKey);
  const first = answer.items[0].index;
  check(receipt === receiptText(info.chain_id, lenderId, root, first, items.length, answer.deposit_time_ms, answer.seal_by_ms),
        "the receipt does not state this request");

  const deadline = Date.now() + args.timeout * 1000;
  const results = [];
  for (const [n, item] of items.entries()) {
    const index = first + n;
    let view = await signedGet(server, info.chain_id, lenderId, key, `/v1/deposits/${index}`);
    let sealedSeen = null;
    while (Date.now() < deadline) {
      if (view.status !== "pending" && sealedSeen === null) sealedSeen = checkInclusion(view, item, lenderId, answer, chainKey, index);
      if (view.status === "anchored" && view.deposit_code) break;
      view = await signedGet(server, info.chain_id, lenderId, key, `/v1/deposits/${index}?wait=5`);
    }
    check(sealedSeen !== null, `deposit ${index} was not sealed in time`);
    check(view.status === "anchored" && dammOk(view.deposit_code), `deposit ${index} got no valid deposit code in time`);
    results.push({ index, digest: item.digest, deposit_code: view.deposit_code, tree_size: sealedSeen, status: view.status });
  }
  return { chain_id: info.chain_id, receipt_verified: true, inclusion_verified: true, first_index: first, items: results };
}

// The status view's inclusion proof, for the entry this client computes itself, leads to the signed checkpoint's root.
function checkInclusion(view, item, lenderId, answer, chainKey, index) {
  check(view.deposit_time_ms === answer.deposit_time_ms && view.digest === item.digest, `deposit ${index}: the view is not this deposit`);
  const leaf = leafHash(entryBytes(lenderId, item, answer.deposit_time_ms));
  check(b64(leaf) === view.leaf_hash, `deposit ${index}: the chain's leaf hash is not the entry's`);
  const cp = checkpointFields(openNote(view.checkpoint, chainKey));
  check(cp.origin === chainKey.name && cp.size === view.tree_size, `deposit ${index}: the checkpoint is not the view's`);
  const r = rootFromInclusionProof(leaf, index, cp.size, view.inclusion_proof.map(unb64));
  check(r.equals(cp.root), `deposit ${index}: the inclusion proof does not lead to the checkpoint's root`);
  return cp.size;
}

function parseArgs(argv) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const args = { vectors: path.join(here, "..", "..", "docs", "vectors"), count: 3, timeout: 60, selfTest: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--self-test") args.selfTest = true;
    else if (["--server", "--lender", "--key", "--vectors"].includes(flag)) args[flag.slice(2)] = argv[++i];
    else if (flag === "--count" || flag === "--timeout") args[flag.slice(2)] = Number(argv[++i]);
    else throw new ProtocolError(`unknown argument ${flag}`);
  }
  if (!args.selfTest) check(args.server && args.lender && args.key, "--server, --lender and --key are required");
  return args;
}

try {
  const args = parseArgs(process.argv.slice(2));
  const vectors = selfTest(args.vectors);
  const out = args.selfTest ? { client: "node", vectors } : { client: "node", vectors, ...(await run(args)) };
  process.stdout.write(JSON.stringify(out) + "\n");
} catch (error) {
  process.stdout.write(JSON.stringify({ client: "node", error: String(error.message || error) }) + "\n");
  process.exit(error instanceof ProtocolError ? 2 : 1);
}
