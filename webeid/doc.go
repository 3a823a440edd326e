// Package webeid builds and checks Web eID authentication tokens (formats "web-eid:1.0" and
// "web-eid:1.1"), the origin-bound challenge signatures that POST /api/authenticate
// answers, and Web eID's signing of a hash: the signing certificate POST
// /api/signing-certificate answers and the signature POST /api/sign answers.
//
// A site sends a random challenge nonce, a Base64 string of 44 to 128 characters. The
// token's signature is made with the token's algorithm over the data
// hash(origin) || hash(nonce), exactly as Web eID's server-side validators check it, where
// origin is the site's origin exactly as the browser sent it in the Origin header, nonce is
// the UTF-8 bytes of the nonce string (not its decoded bytes) and hash is the algorithm's
// hash (SHA-256 for RS256, PS256 and ES256, SHA-384 for RS384, PS384 and ES384, SHA-512 for
// RS512, PS512 and ES512). The algorithm hashes its input, so the card signs the digest
// hash(hash(origin) || hash(nonce)): one hash over the concatenation, not two. Binding the
// origin into the signed data stops one site replaying a signature at another.
//
// The token is a JSON object of five strings:
//
//	{
//	  "unverifiedCertificate": "<standard Base64 of the authentication certificate's DER>",
//	  "algorithm": "RS256",
//	  "signature": "<standard Base64 of the signature>",
//	  "format": "web-eid:1.0",
//	  "appVersion": "https://github.com/cardbridge/cardbridge/releases/tag/v1.2.3"
//	}
//
// RSA signatures are RSASSA-PKCS1-v1_5 (RS*) or RSASSA-PSS with a salt as long as the hash
// (PS*) of the signed data, which the scheme hashes, as openssl dgst -sha256 -sign does.
// ECDSA signatures (ES*) are of hash(data), the same digest, and are carried as the
// fixed-length concatenation r||s (IEEE P1363), not the ASN.1 DER a card returns.
//
// A web-eid:1.1 token (WithSigningCertificate, asked for with getSigningCertificate) is the
// same token with one more field, unverifiedSigningCertificates: a list of one
// SigningCertificate, {"certificate": "<Base64 DER>", "supportedSignatureAlgorithms":
// [{"cryptoAlgorithm": "RSA", "hashFunction": "SHA-256", "paddingScheme": "PKCS1.5"}, ...]},
// so that a site can prepare a document to sign without asking for the certificate again.
// The token's signature does not cover it; a site checks, as Web eID's validators do, that
// it names the same holder and issuing authority as the authentication certificate and has
// the non-repudiation key usage.
//
// Signing (ParseSignRequest, Sign) takes {"certificate", "hash", "hashFunction"}: the
// signing certificate, the Base64 of the digest the site computed and its hash function
// ("SHA-256", "SHA-384" or "SHA-512"). The card signs that digest as it is, with RSA
// PKCS#1 v1.5 or ECDSA (r||s); the answer is {"signature", "signatureAlgorithm":
// {"cryptoAlgorithm", "hashFunction", "paddingScheme"}}.
//
// Create and Sign are the agent's side: they drive a card through the Signer interface.
// Verify and VerifyDigestSignature are a site's side, as the Web eID server-side validators
// do it, for tests and for sites written in Go; they check the signature and the
// certificates' validity periods but not who issued the certificates.
package webeid
