// Types of cardbridge.js, the browser client for the cardbridge agent: the
// ES module (cardbridge.mjs), the CommonJS form and the <script> global
// CardBridge (cardbridge.js). See docs/API.md for what each call answers.

export as namespace CardBridge;

/** Error codes the agent answers with (api/errors.go). */
export type AgentErrorCode =
  | "PCSC_UNAVAILABLE"
  | "NO_READER"
  | "NO_CARD"
  | "UNSUPPORTED_CARD"
  | "ORIGIN_NOT_ALLOWED"
  | "HOST_NOT_ALLOWED"
  | "WRONG_USER"
  | "BAD_REQUEST"
  | "PIN_CANCELLED"
  | "WRONG_PIN"
  | "PIN_BLOCKED"
  | "BUSY"
  | "WRONG_CARD"
  | "INTERNAL";

/** Error codes the client tells from what the browser saw. */
export type BrowserErrorCode = "NOT_RUNNING" | "LOCAL_NETWORK_DENIED" | "TIMEOUT";

/** Every code of a CardBridgeError. */
export type ErrorCode = AgentErrorCode | BrowserErrorCode;

/** Every code of a CardBridgeError, the agent's first. */
export declare const ERROR_CODES: readonly ErrorCode[];

/** The error every call rejects with. */
export declare class CardBridgeError extends Error {
  constructor(code: ErrorCode, message?: string, status?: number, cause?: unknown);
  readonly name: "CardBridgeError";
  /** What failed, for programs; the message is for people. */
  readonly code: ErrorCode;
  /** The HTTP status, when the agent answered over HTTP. */
  readonly status?: number;
  /** The browser's own error, when there was one. */
  readonly cause?: unknown;
}

/** The port service's well-known ports, asked in this order. */
export declare const PORT_SERVICE_PORTS: readonly number[];
/** The agent's port when it runs without a port service. */
export declare const STANDALONE_PORT: number;

export interface ConnectOptions {
  /** Port service ports to ask, in order (default PORT_SERVICE_PORTS; [] for none). */
  portServicePorts?: readonly number[];
  /** The standalone agent's port (default STANDALONE_PORT). */
  standalonePort?: number;
  /** Bound on each discovery request, in ms (default 2000). */
  timeoutMs?: number;
  /** Remember what worked in sessionStorage ("cardbridge.port") and try it first (default true). */
  remember?: boolean;
}

/** Finds this user's agent and answers a Client for it. */
export declare function connect(options?: ConnectOptions): Promise<Client>;

/** An error object as the agent writes it. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
}

/** A card: present with its identity, present but unreadable (error), or absent. */
export interface Card {
  present: boolean;
  reader?: string;
  /** Upper-case hex. */
  atr?: string;
  /** The card holder's UUID: the subject CN of the authentication certificate. */
  uuid?: string;
  subject?: string;
  /** RFC 3339. */
  notAfter?: string;
  /** Standard Base64 of the DER. */
  certificate?: string;
  /** Why a present card cannot be used. */
  error?: ErrorInfo;
}

export interface Reader {
  name: string;
  cardPresent: boolean;
  card: Card | null;
}

/** The answer of readers(). */
export interface Readers {
  readers: Reader[];
}

export interface Setting {
  name: string;
  value: string;
  source: "policy" | "flag" | "environment" | "default";
  where?: string;
}

/** The answer of versionInfo(). */
export interface VersionInfo {
  product: string;
  version: string;
  commit: string;
  api: number;
  os: string;
  arch: string;
  port: number;
  portService: { connected: boolean };
  domainList: { version: string; source: string; entries: string[]; updated?: string };
  trustedUrl: {
    url?: string;
    latestVersion?: string;
    checked?: string | null;
    updateAvailable?: boolean;
    error?: string;
    lastSuccess?: string;
    domainListVersion?: string;
  };
  settings?: Setting[];
  policyProblems?: string[];
}

interface EventBase {
  /** Rises by one per event. */
  seq: number;
  /** RFC 3339 with milliseconds. */
  time: string;
}

export interface SnapshotEvent extends EventBase {
  type: "snapshot";
  pcscAvailable: boolean;
  readers: Reader[];
}

export interface ReaderEvent extends EventBase {
  type: "reader-added" | "reader-removed" | "card-inserted" | "card-removed";
  reader: string;
}

export interface CardUpdatedEvent extends EventBase {
  type: "card-updated";
  reader: string;
  card: Card;
}

export interface ServiceEvent extends EventBase {
  type: "pcsc-unavailable" | "pcsc-available";
}

/** A message of the event stream (subscribe). */
export type CardEvent = SnapshotEvent | ReaderEvent | CardUpdatedEvent | ServiceEvent;

export type SubscriptionStatus = "connecting" | "open" | "closed";

export interface SubscribeHandlers {
  /** Every event; a snapshot follows each (re)connection. */
  onEvent?(event: CardEvent): void;
  /** The stream's state; "closed" carries the WebSocket close code and reason. */
  onStatus?(status: SubscriptionStatus, detail?: { code: number; reason: string }): void;
  /** An error that ended the subscription: ORIGIN_NOT_ALLOWED or LOCAL_NETWORK_DENIED. */
  onError?(error: CardBridgeError): void;
}

export interface Subscription {
  close(): void;
}

export type HashFunction = "SHA-256" | "SHA-384" | "SHA-512";

/** A signature algorithm as Web eID names it. */
export interface SignatureAlgorithm {
  cryptoAlgorithm: "RSA" | "ECC";
  hashFunction: HashFunction;
  paddingScheme: "PKCS1.5" | "PSS" | "NONE";
}

/** The answer of getSigningCertificate(). */
export interface SigningCertificate {
  /** Standard Base64 of the DER. */
  certificate: string;
  supportedSignatureAlgorithms: SignatureAlgorithm[];
}

/** The answer of sign(). */
export interface Signature {
  /** Standard Base64: PKCS#1 v1.5 for RSA, r||s for ECDSA. */
  signature: string;
  signatureAlgorithm: SignatureAlgorithm;
}

/** A Web eID 1.0 authentication token. */
export interface AuthTokenV10 {
  unverifiedCertificate: string;
  algorithm: "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" | "ES256" | "ES384" | "ES512";
  signature: string;
  format: "web-eid:1.0";
  appVersion: string;
}

/** A Web eID 1.1 authentication token: 1.0 with the signing certificate. */
export interface AuthTokenV11 extends Omit<AuthTokenV10, "format"> {
  format: "web-eid:1.1";
  unverifiedSigningCertificates: SigningCertificate[];
}

export interface AuthenticateOptions {
  /** Ask for a web-eid:1.1 token that carries the signing certificate. */
  getSigningCertificate?: boolean;
}

/** One user's agent, as connect() found it. */
export declare class Client {
  constructor(port: number);
  readonly port: number;
  /** "http://127.0.0.1:PORT". */
  readonly base: string;
  versionInfo(): Promise<VersionInfo>;
  readers(): Promise<Readers>;
  /** The first card, or {present: false}. */
  card(): Promise<Card>;
  /** A Web eID token for the site's Base64 nonce (44 to 128 characters), after the PIN. */
  authenticate(challenge: string, options: { getSigningCertificate: true }): Promise<AuthTokenV11>;
  authenticate(challenge: string, options?: { getSigningCertificate?: false }): Promise<AuthTokenV10>;
  authenticate(challenge: string, options?: AuthenticateOptions): Promise<AuthTokenV10 | AuthTokenV11>;
  getSigningCertificate(): Promise<SigningCertificate>;
  /** Signs the Base64 digest hash, made with hashFunction, after the PIN. */
  sign(certificate: string, hash: string, hashFunction: HashFunction): Promise<Signature>;
  subscribe(handlers?: SubscribeHandlers): Subscription;
}
