// Package webeid builds and checks Web eID authentication tokens (format "web-eid:1.0"),
// the origin-bound challenge signatures that POST /api/authenticate answers.
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
// Create is the agent's side: it drives a card through the Signer interface. Verify is a
// site's side, as the Web eID server-side validators do it, for tests and for sites written
// in Go; it checks the signature and the certificate's validity period but not who issued
// the certificate.
package webeid
