// A Five Chains lender client in Java, written from docs/protocol.md and docs/vectors/ alone: one file,
// only the JDK (Ed25519 and SHA-256 from java.security, java.net.http for HTTP, a small JSON reader below).
//
// It first checks itself against the test vectors (so a wrong byte is found before any request), then
// deposits a batch, checks the receipt's signature, reads each deposit's status with signed reads until
// it is sealed (checking the inclusion proof against the signed checkpoint) and then until its deposit
// code arrives (checking the code's check character). It prints one JSON object.
//
//   java clients/java/DepositClient.java --server http://127.0.0.1:8000 --lender L1 --key lender.key \
//        [--vectors docs/vectors] [--count 3] [--timeout 60]
//   java clients/java/DepositClient.java --self-test [--vectors docs/vectors]

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

public final class DepositClient {
    static final byte[] SPKI_ED25519 = HexFormat.of().parseHex("302a300506032b6570032100");
    static final byte[] PKCS8_ED25519 = HexFormat.of().parseHex("302e020100300506032b657004220420");
    static final String ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    static final HexFormat HEX = HexFormat.of();
    static final SecureRandom RANDOM = new SecureRandom();

    /** A mismatch with the protocol or a refusal by the chain (exit code 2). */
    static final class ProtocolError extends RuntimeException {
        ProtocolError(String message) { super(message); }
    }

    static void check(boolean condition, String what) {
        if (!condition) throw new ProtocolError(what);
    }

    // --- JSON: a small reader (objects keep their order) and the RFC 8785 writer -----------------

    static final class Json {
        private final String s;
        private int i;

        private Json(String s) { this.s = s; }

        static Object parse(String text) {
            Json p = new Json(text);
            Object v = p.value();
            p.ws();
            check(p.i == text.length(), "trailing characters after JSON");
            return v;
        }

        private void ws() { while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) i++; }

        private Object value() {
            ws();
            char c = s.charAt(i);
            if (c == '{') {
                Map<String, Object> m = new LinkedHashMap<>();
                i++; ws();
                if (s.charAt(i) == '}') { i++; return m; }
                while (true) {
                    ws(); String k = string(); ws(); check(s.charAt(i++) == ':', "JSON: expected ':'");
                    m.put(k, value()); ws();
                    if (s.charAt(i) == ',') { i++; continue; }
                    check(s.charAt(i++) == '}', "JSON: expected '}'"); return m;
                }
            }
            if (c == '[') {
                List<Object> l = new ArrayList<>();
                i++; ws();
                if (s.charAt(i) == ']') { i++; return l; }
                while (true) {
                    l.add(value()); ws();
                    if (s.charAt(i) == ',') { i++; continue; }
                    check(s.charAt(i++) == ']', "JSON: expected ']'"); return l;
                }
            }
            if (c == '"') return string();
            if (s.startsWith("true", i)) { i += 4; return Boolean.TRUE; }
            if (s.startsWith("false", i)) { i += 5; return Boolean.FALSE; }
            if (s.startsWith("null", i)) { i += 4; return null; }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
            String n = s.substring(start, i);
            return n.matches("-?\\d+") ? (Object) Long.valueOf(n) : (Object) Double.valueOf(n);
        }

        private String string() {
            check(s.charAt(i++) == '"', "JSON: expected a string");
            StringBuilder b = new StringBuilder();
            while (true) {
                char c = s.charAt(i++);
                if (c == '"') return b.toString();
                if (c != '\\') { b.append(c); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'n' -> b.append('\n');
                    case 'r' -> b.append('\r');
                    case 't' -> b.append('\t');
                    case 'u' -> { b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; }
                    default -> b.append(e);
                }
            }
        }

        /** RFC 8785 for strings, integers, booleans, null, arrays and objects (keys sorted by UTF-16 code units). */
        static String canonical(Object v) {
            StringBuilder b = new StringBuilder();
            write(b, v);
            return b.toString();
        }

        @SuppressWarnings("unchecked")
        private static void write(StringBuilder b, Object v) {
            if (v == null) b.append("null");
            else if (v instanceof Boolean || v instanceof Long || v instanceof Integer) b.append(v);
            else if (v instanceof String str) quote(b, str);
            else if (v instanceof List<?> l) {
                b.append('[');
                for (int k = 0; k < l.size(); k++) { if (k > 0) b.append(','); write(b, l.get(k)); }
                b.append(']');
            } else if (v instanceof Map<?, ?> m) {
                b.append('{');
                boolean first = true;
                for (Map.Entry<String, Object> e : new TreeMap<>((Map<String, Object>) m).entrySet()) {  // String order = UTF-16 order
                    if (!first) b.append(',');
                    first = false;
                    quote(b, e.getKey()); b.append(':'); write(b, e.getValue());
                }
                b.append('}');
            } else throw new ProtocolError("this client sends only strings, integers, booleans, null, lists and maps");
        }

        private static void quote(StringBuilder b, String str) {
            b.append('"');
            for (char c : str.toCharArray()) {
                switch (c) {
                    case '"' -> b.append("\\\"");
                    case '\\' -> b.append("\\\\");
                    case '\b' -> b.append("\\b");
                    case '\f' -> b.append("\\f");
                    case '\n' -> b.append("\\n");
                    case '\r' -> b.append("\\r");
                    case '\t' -> b.append("\\t");
                    default -> { if (c < 0x20) b.append(String.format("\\u%04x", (int) c)); else b.append(c); }
                }
            }
            b.append('"');
        }
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> obj(Object o) { return (Map<String, Object>) o; }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object o) { return (List<Object>) o; }

    static String str(Map<String, Object> m, String k) { return (String) m.get(k); }

    static long num(Map<String, Object> m, String k) { return ((Number) m.get(k)).longValue(); }

    // --- bytes, hashes, Merkle trees (RFC 9162) --------------------------------------------------

    static byte[] utf8(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    static String b64(byte[] b) { return Base64.getEncoder().encodeToString(b); }

    static byte[] unb64(String text) {
        byte[] raw = Base64.getDecoder().decode(text);
        check(b64(raw).equals(text), "not canonical base64: " + text);
        return raw;
    }

    static byte[] sha256(byte[]... parts) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (byte[] p : parts) md.update(p);
            return md.digest();
        } catch (GeneralSecurityException e) { throw new IllegalStateException(e); }
    }

    static byte[] leafHash(byte[] data) { return sha256(new byte[] {0}, data); }

    static byte[] nodeHash(byte[] l, byte[] r) { return sha256(new byte[] {1}, l, r); }

    static byte[] merkleRoot(List<byte[]> leaves) {
        if (leaves.size() == 1) return leaves.get(0);
        int k = 1;
        while (k * 2 < leaves.size()) k *= 2;
        return nodeHash(merkleRoot(leaves.subList(0, k)), merkleRoot(leaves.subList(k, leaves.size())));
    }

    static byte[] rootFromInclusionProof(byte[] leaf, long index, long size, List<byte[]> proof) {
        check(index < size, "index beyond the tree");
        long fn = index, sn = size - 1;
        byte[] r = leaf;
        for (byte[] p : proof) {
            check(sn != 0, "inclusion proof too long");
            if ((fn & 1) == 1 || fn == sn) {
                r = nodeHash(p, r);
                if ((fn & 1) == 0) while ((fn & 1) == 0 && fn != 0) { fn >>= 1; sn >>= 1; }
            } else {
                r = nodeHash(r, p);
            }
            fn >>= 1; sn >>= 1;
        }
        check(sn == 0, "inclusion proof too short");
        return r;
    }

    // --- keys, signatures, notes ------------------------------------------------------------------

    static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    static PrivateKey privateKeyFromPkcs8(byte[] der) throws GeneralSecurityException {
        return KeyFactory.getInstance("Ed25519").generatePrivate(new PKCS8EncodedKeySpec(der));
    }

    static PrivateKey privateKeyFromPem(String pem) throws GeneralSecurityException {
        String body = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        return privateKeyFromPkcs8(Base64.getDecoder().decode(body));
    }

    static PublicKey publicKeyFromRaw(byte[] raw) throws GeneralSecurityException {
        return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(concat(SPKI_ED25519, raw)));
    }

    static byte[] sign(PrivateKey key, String text) throws GeneralSecurityException {
        Signature s = Signature.getInstance("Ed25519");
        s.initSign(key);
        s.update(utf8(text));
        return s.sign();
    }

    static boolean verify(PublicKey key, byte[] message, byte[] signature) throws GeneralSecurityException {
        Signature s = Signature.getInstance("Ed25519");
        s.initVerify(key);
        s.update(message);
        return s.verify(signature);
    }

    record Verifier(String name, byte[] keyId, PublicKey key) {}

    /** vkey "name+8 hex key id+base64(0x01 || public key)"; key id = SHA-256(name || "\n" || 0x01 || key)[:4]. */
    static Verifier parseVkey(String vkey) throws GeneralSecurityException {
        int first = vkey.indexOf('+'), second = vkey.indexOf('+', first + 1);
        String name = vkey.substring(0, first), id = vkey.substring(first + 1, second);
        byte[] blob = unb64(vkey.substring(second + 1));
        check(blob.length == 33 && blob[0] == 0x01, "this client knows Ed25519 chain keys only (type 0x01)");
        byte[] keyId = Arrays.copyOf(sha256(utf8(name + "\n"), blob), 4);
        check(HEX.formatHex(keyId).equals(id), "the vkey's key id does not match its name and key");
        return new Verifier(name, keyId, publicKeyFromRaw(Arrays.copyOfRange(blob, 1, 33)));
    }

    /** The text of a signed note once a signature line of this key verifies. */
    static String openNote(String note, Verifier v) throws GeneralSecurityException {
        int split = note.lastIndexOf("\n\n");
        check(split > 0, "a note has a blank line before its signatures");
        String text = note.substring(0, split + 1);
        boolean ok = false;
        for (String line : note.substring(split + 2).split("\n")) {
            if (line.isEmpty()) continue;
            String[] parts = line.split(" ");
            check(parts.length == 3 && parts[0].equals("\u2014"), "a signature line is '\u2014 name base64'");
            byte[] raw = unb64(parts[2]);
            if (!parts[1].equals(v.name()) || !Arrays.equals(Arrays.copyOf(raw, 4), v.keyId())) continue;
            check(verify(v.key(), utf8(text), Arrays.copyOfRange(raw, 4, raw.length)), "the signature of " + v.name() + " does not verify");
            ok = true;
        }
        check(ok, "the note is not signed by the chain's key");
        return text;
    }

    // --- the signed and hashed forms of docs/protocol.md --------------------------------------------

    static byte[] itemBytes(Map<String, Object> item) {
        Map<String, Object> f = new TreeMap<>();
        for (String k : List.of("commitment_salt", "digest", "event_time_ms", "loan_id", "record_type")) f.put(k, item.get(k));
        if (item.get("metadata") != null) f.put("metadata", item.get("metadata"));
        return utf8(Json.canonical(f));
    }

    static byte[] itemsRoot(List<Map<String, Object>> items) {
        List<byte[]> leaves = new ArrayList<>();
        for (Map<String, Object> i : items) leaves.add(leafHash(itemBytes(i)));
        return merkleRoot(leaves);
    }

    static String requestText(String chain, String lender, String nonce, long time, int count, byte[] root) {
        return "fivechains.deposit-request/v2\nchain " + chain + "\nlender " + lender + "\nnonce " + nonce + "\ntime " + time
            + "\nitems " + count + "\nroot " + b64(root) + "\n";
    }

    static String readText(String chain, String lender, String nonce, long time, String method, String target) {
        return "fivechains.read/v2\nchain " + chain + "\nlender " + lender + "\nnonce " + nonce + "\ntime " + time + "\n" + method + " " + target + "\n";
    }

    static String receiptText(String chain, String lender, byte[] root, long first, long count, long depositTime, long sealBy) {
        return "fivechains.deposit-receipt/v2\nchain " + chain + "\nlender " + lender + "\nrequest " + b64(root) + "\nfirst " + first
            + "\ncount " + count + "\ndeposit-time " + depositTime + "\nseal-by " + sealBy + "\n";
    }

    static byte[] entryBytes(String lender, Map<String, Object> item, long depositTime) {
        Map<String, Object> e = new TreeMap<>();
        e.put("commitment", HEX.formatHex(sha256(itemBytes(item))));
        e.put("deposit_time_ms", depositTime);
        e.put("digest", item.get("digest"));
        e.put("event_time_ms", item.get("event_time_ms"));
        e.put("lender_id", lender);
        e.put("record_type", item.get("record_type"));
        return utf8(Json.canonical(e));
    }

    static boolean dammOk(String code) {
        int interim = 0;
        for (char ch : code.toCharArray()) {
            int value = ALPHABET.indexOf(ch);
            if (value < 0) return false;
            int doubled = interim << 1;
            if ((doubled & 0x20) != 0) doubled ^= 0x25;
            interim = doubled ^ value;
        }
        return interim == 0 && code.length() == 14;
    }

    record CheckpointFields(String origin, long size, byte[] root) {}

    static CheckpointFields checkpointFields(String text) {
        String[] lines = text.split("\n");
        return new CheckpointFields(lines[0], Long.parseLong(lines[1]), unb64(lines[2]));
    }

    static List<byte[]> hashes(Object values) {
        List<byte[]> out = new ArrayList<>();
        for (Object h : list(values)) out.add(unb64((String) h));
        return out;
    }

    // --- self-test against docs/vectors ----------------------------------------------------------

    static String selfTest(Path dir) throws IOException, GeneralSecurityException {
        Map<String, Object> req = obj(Json.parse(Files.readString(dir.resolve("deposit-request.json"))));
        Map<String, Object> body = obj(req.get("body"));
        List<Map<String, Object>> items = new ArrayList<>();
        for (Object o : list(body.get("items"))) items.add(obj(o));
        List<Object> stated = list(req.get("items"));
        for (int n = 0; n < items.size(); n++) {
            byte[] data = itemBytes(items.get(n));
            Map<String, Object> s = obj(stated.get(n));
            check(HEX.formatHex(data).equals(str(s, "canonical_hex")), "vector item " + n + ": canonical bytes differ");
            check(HEX.formatHex(leafHash(data)).equals(str(s, "leaf_hash_hex")), "vector item " + n + ": leaf hash differs");
            check(HEX.formatHex(sha256(data)).equals(str(s, "commitment_hex")), "vector item " + n + ": commitment differs");
        }
        byte[] root = itemsRoot(items);
        check(HEX.formatHex(root).equals(str(req, "items_root_hex")), "vector: items root differs");
        String text = requestText(str(req, "chain_id"), str(body, "lender_id"), str(body, "nonce"), num(body, "timestamp_ms"), items.size(), root);
        check(text.equals(str(req, "signed_text")), "vector: request text differs");
        Map<String, Object> lenderKey = obj(req.get("lender_key"));
        PrivateKey key = privateKeyFromPkcs8(concat(PKCS8_ED25519, HEX.parseHex(str(lenderKey, "seed_hex"))));
        check(b64(sign(key, text)).equals(str(req, "signature_b64")), "vector: request signature differs");
        check(b64(sign(privateKeyFromPem(str(lenderKey, "private_key_pkcs8_pem")), text)).equals(str(req, "signature_b64")),
              "vector: the PKCS#8 key signs differently");

        Map<String, Object> read = obj(Json.parse(Files.readString(dir.resolve("signed-read.json"))));
        String rtext = readText(str(read, "chain_id"), str(read, "lender_id"), str(read, "nonce"), num(read, "timestamp_ms"),
                                str(read, "method"), str(read, "path_and_query"));
        check(rtext.equals(str(read, "signed_text")) && b64(sign(key, rtext)).equals(str(read, "signature_b64")), "vector: signed read differs");

        Map<String, Object> rc = obj(Json.parse(Files.readString(dir.resolve("receipt.json"))));
        Verifier chainKey = parseVkey(str(obj(rc.get("chain_key")), "vkey"));
        Map<String, Object> a = obj(rc.get("answer"));
        String note = openNote(str(a, "receipt"), chainKey);
        List<Object> answered = list(a.get("items"));
        check(note.equals(receiptText(str(a, "chain_id"), str(req, "lender_id"), root, num(obj(answered.get(0)), "index"), answered.size(),
                                      num(a, "deposit_time_ms"), num(a, "seal_by_ms"))), "vector: receipt text differs");

        Map<String, Object> entries = obj(Json.parse(Files.readString(dir.resolve("public-entries.json"))));
        List<Object> es = list(entries.get("entries"));
        for (int n = 0; n < es.size(); n++) {
            byte[] data = entryBytes(str(req, "lender_id"), items.get(n), num(entries, "deposit_time_ms"));
            check(HEX.formatHex(data).equals(str(obj(es.get(n)), "supervision_entry_hex")), "vector entry " + n + ": bytes differ");
            check(HEX.formatHex(leafHash(data)).equals(str(obj(es.get(n)), "supervision_leaf_hash_hex")), "vector entry " + n + ": leaf hash differs");
        }

        Map<String, Object> ledger = obj(Json.parse(Files.readString(dir.resolve("ledger.json"))));
        CheckpointFields cp = checkpointFields(openNote(str(obj(ledger.get("checkpoint")), "note"), chainKey));
        check(HEX.formatHex(cp.root()).equals(str(ledger, "root_hex")), "vector: checkpoint root differs");
        for (Object o : list(ledger.get("inclusion_proofs"))) {
            Map<String, Object> p = obj(o);
            byte[] r = rootFromInclusionProof(unb64(str(p, "leaf_hash_b64")), num(p, "index"), num(p, "tree_size"), hashes(p.get("hashes_b64")));
            check(Arrays.equals(r, cp.root()), "vector: inclusion proof of " + num(p, "index") + " does not lead to the root");
        }
        Map<String, Object> block = obj(ledger.get("block"));
        openNote(str(block, "note"), chainKey);
        check(HEX.formatHex(sha256(utf8(str(block, "note")))).equals(str(block, "block_hash_hex")), "vector: block hash differs");

        Map<String, Object> codes = obj(Json.parse(Files.readString(dir.resolve("deposit-codes.json"))));
        for (Object o : list(codes.get("codes"))) check(dammOk(str(obj(o), "code")), "vector: a code fails its check");
        for (Object o : list(codes.get("invalid"))) check(!dammOk(str(obj(o), "input")), "vector: an invalid code passes its check");
        return "ok";
    }

    // --- talking to a supervision chain ----------------------------------------------------------

    static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    static Map<String, Object> expect(HttpResponse<String> response, int status, String what) {
        if (response.statusCode() != status) {
            String b = response.body();
            throw new ProtocolError(what + ": " + response.statusCode() + " " + b.substring(0, Math.min(300, b.length())));
        }
        return obj(Json.parse(response.body()));
    }

    static String randomHex(int bytes) {
        byte[] b = new byte[bytes];
        RANDOM.nextBytes(b);
        return HEX.formatHex(b);
    }

    static Map<String, Object> signedGet(String server, String chain, String lender, PrivateKey key, String target) throws Exception {
        String nonce = randomHex(16);
        long now = System.currentTimeMillis();
        String signature = b64(sign(key, readText(chain, lender, nonce, now, "GET", target)));
        HttpRequest request = HttpRequest.newBuilder(URI.create(server + target)).header("X-Lender-Id", lender)
            .header("X-Timestamp", Long.toString(now)).header("X-Nonce", nonce).header("X-Signature", signature).GET().build();
        return expect(HTTP.send(request, HttpResponse.BodyHandlers.ofString()), 200, "signed read " + target);
    }

    static Map<String, Object> run(Map<String, String> args) throws Exception {
        String server = args.get("server").replaceAll("/$", "");
        String lender = args.get("lender");
        PrivateKey key = privateKeyFromPem(Files.readString(Path.of(args.get("key"))));
        int count = Integer.parseInt(args.getOrDefault("count", "3"));
        long deadline = System.currentTimeMillis() + 1000L * Long.parseLong(args.getOrDefault("timeout", "60"));
        Map<String, Object> info = expect(HTTP.send(HttpRequest.newBuilder(URI.create(server + "/v1/chain")).GET().build(),
                                                    HttpResponse.BodyHandlers.ofString()), 200, "GET /v1/chain");
        check("sha256".equals(info.get("hash_suite")), "this client checks SHA-256 ledgers");
        String chain = str(info, "chain_id");
        Verifier chainKey = parseVkey(str(info, "vkey"));
        check(chainKey.name().equals(chain), "the chain's key is named after the chain");

        long now = System.currentTimeMillis();
        String run = randomHex(4);
        List<Map<String, Object>> items = new ArrayList<>();
        for (int n = 0; n < count; n++) {
            Map<String, Object> item = new LinkedHashMap<>();
            item.put("digest", HEX.formatHex(sha256(utf8("java client record " + run + " " + n))));
            item.put("record_type", n == 0 ? "contract" : "disbursement");
            item.put("loan_id", "java-" + run + "-" + n);
            item.put("event_time_ms", now - 60_000);
            item.put("commitment_salt", randomHex(32));
            if (n == 0) item.put("metadata", new LinkedHashMap<>(Map.of("channel", "java", "branch", "天河", "amount_fen", 125000L)));
            items.add(item);
        }
        String nonce = randomHex(16);
        byte[] root = itemsRoot(items);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("lender_id", lender);
        body.put("nonce", nonce);
        body.put("timestamp_ms", now);
        body.put("items", new ArrayList<Object>(items));
        body.put("signature", b64(sign(key, requestText(chain, lender, nonce, now, items.size(), root))));
        HttpRequest post = HttpRequest.newBuilder(URI.create(server + "/v1/deposits")).header("Content-Type", "application/json")
            .header("Idempotency-Key", nonce).POST(HttpRequest.BodyPublishers.ofString(Json.canonical(body), StandardCharsets.UTF_8)).build();
        Map<String, Object> answer = expect(HTTP.send(post, HttpResponse.BodyHandlers.ofString()), 202, "deposit");

        long first = num(obj(list(answer.get("items")).get(0)), "index");
        String receipt = openNote(str(answer, "receipt"), chainKey);
        check(receipt.equals(receiptText(chain, lender, root, first, items.size(), num(answer, "deposit_time_ms"), num(answer, "seal_by_ms"))),
              "the receipt does not state this request");

        List<Object> results = new ArrayList<>();
        for (int n = 0; n < items.size(); n++) {
            long index = first + n;
            Map<String, Object> item = items.get(n);
            Map<String, Object> view = signedGet(server, chain, lender, key, "/v1/deposits/" + index);
            Long sealedAt = null;
            while (System.currentTimeMillis() < deadline) {
                if (!"pending".equals(view.get("status")) && sealedAt == null) sealedAt = checkInclusion(view, item, lender, answer, chainKey, index);
                if ("anchored".equals(view.get("status")) && view.get("deposit_code") != null) break;
                view = signedGet(server, chain, lender, key, "/v1/deposits/" + index + "?wait=5");
            }
            check(sealedAt != null, "deposit " + index + " was not sealed in time");
            check("anchored".equals(view.get("status")) && dammOk(str(view, "deposit_code")), "deposit " + index + " got no valid deposit code in time");
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("index", index);
            r.put("digest", item.get("digest"));
            r.put("deposit_code", view.get("deposit_code"));
            r.put("tree_size", sealedAt);
            r.put("status", view.get("status"));
            results.add(r);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("chain_id", chain);
        out.put("receipt_verified", true);
        out.put("inclusion_verified", true);
        out.put("first_index", first);
        out.put("items", results);
        return out;
    }

    /** The view's inclusion proof, for the entry computed here, leads to the signed checkpoint's root. */
    static long checkInclusion(Map<String, Object> view, Map<String, Object> item, String lender, Map<String, Object> answer,
                               Verifier chainKey, long index) throws GeneralSecurityException {
        check(num(view, "deposit_time_ms") == num(answer, "deposit_time_ms") && item.get("digest").equals(view.get("digest")),
              "deposit " + index + ": the view is not this deposit");
        byte[] leaf = leafHash(entryBytes(lender, item, num(answer, "deposit_time_ms")));
        check(b64(leaf).equals(view.get("leaf_hash")), "deposit " + index + ": the chain's leaf hash is not the entry's");
        CheckpointFields cp = checkpointFields(openNote(str(view, "checkpoint"), chainKey));
        check(cp.origin().equals(chainKey.name()) && cp.size() == num(view, "tree_size"), "deposit " + index + ": the checkpoint is not the view's");
        byte[] r = rootFromInclusionProof(leaf, index, cp.size(), hashes(view.get("inclusion_proof")));
        check(Arrays.equals(r, cp.root()), "deposit " + index + ": the inclusion proof does not lead to the checkpoint's root");
        return cp.size();
    }

    public static void main(String[] argv) {
        Map<String, String> args = new LinkedHashMap<>();
        args.put("vectors", Path.of(System.getProperty("user.dir"), "docs", "vectors").toString());
        boolean selfTestOnly = false;
        int exit = 0;
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("client", "java");
        try {
            for (int i = 0; i < argv.length; i++) {
                if (argv[i].equals("--self-test")) selfTestOnly = true;
                else if (argv[i].startsWith("--") && i + 1 < argv.length) args.put(argv[i].substring(2), argv[++i]);
                else throw new ProtocolError("unknown argument " + argv[i]);
            }
            out.put("vectors", selfTest(Path.of(args.get("vectors"))));
            if (!selfTestOnly) {
                check(args.containsKey("server") && args.containsKey("lender") && args.containsKey("key"), "--server, --lender and --key are required");
                out.putAll(run(args));
            }
        } catch (ProtocolError e) {
            out.keySet().retainAll(List.of("client"));
            out.put("error", e.getMessage());
            exit = 2;
        } catch (Exception e) {
            out.keySet().retainAll(List.of("client"));
            out.put("error", e.toString());
            exit = 1;
        }
        System.out.println(Json.canonical(out));
        System.exit(exit);
    }
}
