package templates

// The pages keycloak-js (npm keycloak-js 26) loads in hidden, sandboxed
// iframes ("allow-storage-access-by-user-activation allow-scripts
// allow-same-origin"). They are not user-facing and have no stylesheet;
// their behaviour is the contract, see keycloak-compat.md §1.3 and §1.4.
//
// Serving notes for the server:
//   - text/html; charset=utf-8, any ?version= query ignored;
//   - they must be frameable by the client's origin: no X-Frame-Options and
//     no frame-ancestors 'self' (a CSP with script-src '<hash>' is fine; the
//     *ScriptHash constants are the hashes of their only inline script, and
//     login-status-iframe.html also needs connect-src 'self' if a
//     connect-src or default-src is sent);
//   - the KEYCLOAK_SESSION cookie read by login-status-iframe.html must not
//     be HttpOnly; its value is base64url-no-pad(SHA-256(sid)), or the
//     legacy "realm/userId/sid".

// LoginStatusIframe is GET .../protocol/openid-connect/login-status-iframe.html.
//
// keycloak-js posts "<clientId> <sid>" (sid may be empty) every few seconds
// and expects "unchanged", "changed" or "error" back from this window with
// its own origin as target. On the first message the page asks the server,
// once, whether the client may use it from the sender's origin
// (GET <this path>/init?client_id=..&origin=.., any 2xx = yes); a refusal
// makes every answer "error". Afterwards it compares the sid with the
// KEYCLOAK_SESSION cookie: no cookie = "changed" unless sid is empty;
// cookie = base64url(SHA-256(sid)) or legacy ".../.../sid" = "unchanged";
// another client or origin than the verified one = "error"; no third-party
// storage access = "error".
func LoginStatusIframe() string { return loginStatusIframeHTML }

// ThirdPartyCookiesStep1 is GET .../protocol/openid-connect/3p-cookies/step1.html.
// With storage access (Storage Access API, or assumed where the API does
// not exist) it sets two short-lived test cookies and moves on to
// step2.html; without it reports "unsupported" to the parent straight away,
// as Keycloak's page does.
func ThirdPartyCookiesStep1() string { return thirdPartyCookiesStep1HTML }

// ThirdPartyCookiesStep2 is GET .../protocol/openid-connect/3p-cookies/step2.html.
// If a test cookie from step 1 is visible it deletes both and posts
// "supported" to the parent (target "*"), else "unsupported". Either
// cookie counts: in browsers defaulting to SameSite=Lax only the
// SameSite=None one is visible in a third-party frame.
func ThirdPartyCookiesStep2() string { return thirdPartyCookiesStep2HTML }

// CSP hashes ("sha256-<base64>", quote them in the header) of the only
// inline script of each page; templates_test.go fails when they drift.
const (
	LoginStatusIframeScriptHash      = "sha256-GWgT2etyaSm5Yl08TfN1QkWQgCWLPl6g6vhs5lx/n3c="
	ThirdPartyCookiesStep1ScriptHash = "sha256-j9Ha/wz7fUqvd7NkkQv3nr9UNInddJ3UXAZJjid6Fsc="
	ThirdPartyCookiesStep2ScriptHash = "sha256-zFtrr4tie+yNZg1eflXgteBUnIL5Za0myFpqQpm3vlc="
)

var (
	loginStatusIframeHTML      = iframePage(loginStatusIframeScript)
	thirdPartyCookiesStep1HTML = iframePage(thirdPartyCookiesStep1Script)
	thirdPartyCookiesStep2HTML = iframePage(thirdPartyCookiesStep2Script)
)

func iframePage(script string) string {
	return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" +
		"<meta name=\"robots\" content=\"noindex, nofollow\">\n</head>\n<body>\n<script>" +
		script + "</script>\n</body>\n</html>\n"
}

// storageAccessJS resolves to whether this (third-party) frame may use its
// cookies: true where the Storage Access API does not exist (older
// browsers; the test cookie decides there), else already granted or granted
// now without a user gesture.
const storageAccessJS = `
async function storageAccess() {
  if (!("hasStorageAccess" in document)) return true;
  if (await document.hasStorageAccess()) return true;
  try {
    await document.requestStorageAccess();
    return true;
  } catch (e) {
    return false;
  }
}
`

const loginStatusIframeScript = `
"use strict";
let verified = null; // {clientId, origin} the server accepted
let initRequest = null; // the single /init request, shared by concurrent checks

window.addEventListener("message", async (event) => {
  if (typeof event.data !== "string" || !event.source) return;
  const parts = event.data.split(" ");
  if (parts.length !== 2) return;
  let status;
  try {
    status = await sessionStatus(parts[0], parts[1], event.origin);
  } catch (e) {
    status = "error";
  }
  event.source.postMessage(status, event.origin);
});

async function sessionStatus(clientId, sid, origin) {
  if (!(await storageAccess())) return "error";
  if (verified === null) {
    if (initRequest === null) initRequest = checkClient(clientId, origin);
    if (!(await initRequest)) return "error";
  }
  const cookie = readCookie("KEYCLOAK_SESSION");
  if (!cookie) return sid === "" ? "unchanged" : "changed";
  if (clientId !== verified.clientId || origin !== verified.origin) return "error";
  if (cookie === (await sidHash(sid))) return "unchanged";
  // Cookie format before Keycloak 26.1: realm/userId/sessionId.
  return cookie.split("/")[2] === sid ? "unchanged" : "changed";
}

// Asks the server whether clientId may use this page from origin (2xx = yes).
async function checkClient(clientId, origin) {
  const query = new URLSearchParams({ client_id: clientId, origin: origin });
  try {
    const response = await fetch(location.pathname + "/init?" + query, { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) return false;
  } catch (e) {
    return false;
  }
  verified = { clientId: clientId, origin: origin };
  return true;
}
` + storageAccessJS + `
function readCookie(name) {
  for (const pair of document.cookie.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value[0] === '"' && value[value.length - 1] === '"') value = value.slice(1, -1);
    return value;
  }
  return null;
}

// base64url, unpadded, of SHA-256 of the UTF-8 sid: the KEYCLOAK_SESSION value.
async function sidHash(sid) {
  const data = new TextEncoder().encode(sid);
  const sum = globalThis.crypto && crypto.subtle
    ? new Uint8Array(await crypto.subtle.digest("SHA-256", data))
    : sha256(data); // no Web Crypto outside a secure context (plain http)
  let bin = "";
  for (const b of sum) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// Plain SHA-256 (FIPS 180-4) for pages served over plain http.
function sha256(msg) {
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);
  const H = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const size = Math.ceil((msg.length + 9) / 64) * 64;
  const buf = new Uint8Array(size);
  buf.set(msg);
  buf[msg.length] = 0x80;
  const view = new DataView(buf.buffer);
  view.setUint32(size - 8, Math.floor(msg.length / 0x20000000));
  view.setUint32(size - 4, (msg.length * 8) >>> 0);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  const W = new Uint32Array(64);
  for (let off = 0; off < size; off += 64) {
    for (let i = 0; i < 16; i++) W[i] = view.getUint32(off + 4 * i);
    for (let i = 16; i < 64; i++) {
      const x = W[i - 15], y = W[i - 2];
      W[i] = W[i - 16] + (rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3)) + W[i - 7] + (rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10));
    }
    let [a, b, c, d, e, f, g, h] = H;
    for (let i = 0; i < 64; i++) {
      const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + W[i]) >>> 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      h = g; g = f; f = e; e = (d + t1) >>> 0;
      d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
  }
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) outView.setUint32(4 * i, H[i]);
  return out;
}
`

const thirdPartyCookiesStep1Script = `
"use strict";
(async () => {
  let access = false;
  try {
    access = await storageAccess();
  } catch (e) {
    access = false;
  }
  if (!access) {
    window.parent.postMessage("unsupported", "*");
    return;
  }
  document.cookie = "KEYCLOAK_3P_COOKIE_SAMESITE=supported; Max-Age=60; SameSite=None; Secure";
  document.cookie = "KEYCLOAK_3P_COOKIE=supported; Max-Age=60";
  location.href = "step2.html";
})();
` + storageAccessJS

const thirdPartyCookiesStep2Script = `
"use strict";
(() => {
  const names = document.cookie.split(";").map((pair) => pair.split("=")[0].trim());
  const supported = names.includes("KEYCLOAK_3P_COOKIE") || names.includes("KEYCLOAK_3P_COOKIE_SAMESITE");
  if (supported) {
    document.cookie = "KEYCLOAK_3P_COOKIE_SAMESITE=; Max-Age=0; SameSite=None; Secure";
    document.cookie = "KEYCLOAK_3P_COOKIE=; Max-Age=0";
  }
  window.parent.postMessage(supported ? "supported" : "unsupported", "*");
})();
`
