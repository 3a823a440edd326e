package api

// Code is an error code of the API.
type Code string

// The error codes, as SPEC.md names them, and WRONG_CARD: a signature
// (POST /api/sign) asked of a certificate that is not the signing
// certificate of the card in the reader.
const (
	CodePCSCUnavailable  Code = "PCSC_UNAVAILABLE"
	CodeNoReader         Code = "NO_READER"
	CodeNoCard           Code = "NO_CARD"
	CodeUnsupportedCard  Code = "UNSUPPORTED_CARD"
	CodeOriginNotAllowed Code = "ORIGIN_NOT_ALLOWED"
	CodeHostNotAllowed   Code = "HOST_NOT_ALLOWED"
	CodeWrongUser        Code = "WRONG_USER"
	CodeBadRequest       Code = "BAD_REQUEST"
	CodePINCancelled     Code = "PIN_CANCELLED"
	CodeWrongPIN         Code = "WRONG_PIN"
	CodePINBlocked       Code = "PIN_BLOCKED"
	CodeBusy             Code = "BUSY"
	CodeWrongCard        Code = "WRONG_CARD"
	CodeInternal         Code = "INTERNAL"
)

// Codes are all the error codes, in the order above (a test holds it to
// the constants).
var Codes = []Code{
	CodePCSCUnavailable, CodeNoReader, CodeNoCard, CodeUnsupportedCard,
	CodeOriginNotAllowed, CodeHostNotAllowed, CodeWrongUser, CodeBadRequest,
	CodePINCancelled, CodeWrongPIN, CodePINBlocked, CodeBusy, CodeWrongCard,
	CodeInternal,
}

// Error is the error object: {"code","message"}.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// ErrorBody is an error answer: {"error":{"code","message"}}.
type ErrorBody struct {
	Error Error `json:"error"`
}
