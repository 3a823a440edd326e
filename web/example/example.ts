// example.ts is a page script that uses every call of @cardbridge/client.
// `tsc -p web` checks it with --strict against cardbridge.d.ts; the lines
// marked @ts-expect-error must stay errors, so that the types cannot
// silently become `any`.
import {
  CardBridgeError,
  connect,
  ERROR_CODES,
  PORT_SERVICE_PORTS,
  STANDALONE_PORT,
  type AuthTokenV10,
  type AuthTokenV11,
  type Card,
  type CardEvent,
  type Client,
  type ErrorCode,
  type Signature,
  type SigningCertificate,
} from "@cardbridge/client";

function show(text: string): void {
  const out = document.getElementById("out");
  if (out) out.textContent = text;
}

// advice is what the page tells its user for each error code.
function advice(code: ErrorCode): string {
  switch (code) {
    case "NOT_RUNNING": return "Start cardbridge, or install it.";
    case "LOCAL_NETWORK_DENIED": return "Allow this site to reach this computer in the browser's site settings.";
    case "ORIGIN_NOT_ALLOWED": return "This site is not on cardbridge's DomainList; ask your administrator.";
    case "TIMEOUT": return "cardbridge did not answer in time; try again.";
    case "NO_CARD": return "Insert your smartcard.";
    case "NO_READER": return "Plug in your card reader.";
    case "PCSC_UNAVAILABLE": return "Start the smart card service.";
    case "UNSUPPORTED_CARD": return "This card cannot be used here.";
    case "PIN_CANCELLED": return "You cancelled the PIN prompt.";
    case "WRONG_PIN": return "The PIN was wrong.";
    case "PIN_BLOCKED": return "Your PIN is blocked: see your Registration Authority.";
    case "WRONG_CARD": return "Insert the card the page read the certificate from.";
    case "BUSY": return "The card is busy; try again.";
    case "BAD_REQUEST":
    case "HOST_NOT_ALLOWED":
    case "WRONG_USER":
    case "INTERNAL":
      return "Something went wrong; see cardbridge's log.";
  }
}

async function sha256Base64(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return btoa(String.fromCharCode(...digest));
}

async function main(nonce: string): Promise<void> {
  let cb: Client;
  try {
    cb = await connect({ portServicePorts: [...PORT_SERVICE_PORTS], standalonePort: STANDALONE_PORT, timeoutMs: 2000, remember: true });
  } catch (e) {
    if (e instanceof CardBridgeError) {
      show(`${e.code}: ${advice(e.code)} (${e.message}${e.status !== undefined ? `, HTTP ${e.status}` : ""})`);
    }
    return;
  }
  const info = await cb.versionInfo();
  show(`cardbridge ${info.version} on port ${cb.port} (${info.domainList.entries.length} sites allowed)`);

  const { readers } = await cb.readers();
  for (const r of readers) {
    const card: Card | null = r.card;
    show(`${r.name}: ${r.cardPresent ? (card?.uuid ?? card?.error?.code ?? "reading") : "empty"}`);
  }

  const card = await cb.card();
  show(card.present ? `card of ${card.uuid} until ${card.notAfter}` : "insert your smartcard");

  const sub = cb.subscribe({
    onEvent(ev: CardEvent) {
      switch (ev.type) {
        case "snapshot": show(`${ev.readers.length} readers, PC/SC ${ev.pcscAvailable ? "up" : "down"}`); break;
        case "card-updated": show(ev.card.uuid ?? ev.card.error?.message ?? ""); break;
        case "card-removed": show(`card removed from ${ev.reader} (event ${ev.seq} at ${ev.time})`); break;
        default: show(ev.type);
      }
    },
    onStatus(status, detail) { show(status + (detail ? ` ${detail.code}` : "")); },
    onError(e) { show(`${e.code}: ${advice(e.code)}`); },
  });

  const login: AuthTokenV10 = await cb.authenticate(nonce);
  show(`${login.format} ${login.algorithm} token for ${login.unverifiedCertificate.length} bytes of certificate`);
  const login11: AuthTokenV11 = await cb.authenticate(nonce, { getSigningCertificate: true });
  const signing: SigningCertificate = login11.unverifiedSigningCertificates[0] ?? (await cb.getSigningCertificate());
  const alg = signing.supportedSignatureAlgorithms.find((a) => a.hashFunction === "SHA-256");
  if (!alg) return;
  try {
    const sig: Signature = await cb.sign(signing.certificate, await sha256Base64("<SignedInfo/>"), alg.hashFunction);
    show(`${sig.signatureAlgorithm.cryptoAlgorithm}/${sig.signatureAlgorithm.paddingScheme}: ${sig.signature}`);
  } catch (e) {
    if (e instanceof CardBridgeError && (e.code === "PIN_CANCELLED" || e.code === "WRONG_CARD")) show(advice(e.code));
    else throw e;
  } finally {
    sub.close();
  }
  show(`${ERROR_CODES.length} error codes`);

  // @ts-expect-error: not an error code
  const notACode: ErrorCode = "NOT_A_CODE";
  // @ts-expect-error: MD5 is no hash function Web eID signs with
  await cb.sign(signing.certificate, "", "MD5");
  // @ts-expect-error: a 1.0 token carries no signing certificates
  login.unverifiedSigningCertificates;
  void notACode;
}

void main(new URLSearchParams(location.search).get("nonce") ?? "");
