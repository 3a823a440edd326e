package api

import (
	"errors"

	"github.com/cardbridge/cardbridge/pcsc"
	"github.com/cardbridge/cardbridge/piv"
)

// Code is an error code of the API.
type Code string

// The error codes, as SPEC.md names them.
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
	CodeInternal         Code = "INTERNAL"
)

// Error is the error object: {"code","message"}.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// ErrorBody is an error answer: {"error":{"code","message"}}.
type ErrorBody struct {
	Error Error `json:"error"`
}

// CodeOf classifies err by the sentinel errors it wraps.
func CodeOf(err error) Code {
	switch {
	case errors.Is(err, pcsc.ErrUnavailable):
		return CodePCSCUnavailable
	case errors.Is(err, pcsc.ErrNoReader):
		return CodeNoReader
	case errors.Is(err, pcsc.ErrNoCard):
		return CodeNoCard
	case errors.Is(err, pcsc.ErrCardBusy):
		return CodeBusy
	case errors.Is(err, piv.ErrPINBlocked):
		return CodePINBlocked
	case errors.Is(err, piv.ErrWrongPIN):
		return CodeWrongPIN
	case errors.Is(err, piv.ErrUnsupportedCard),
		errors.Is(err, pcsc.ErrCardTimeout),
		errors.Is(err, pcsc.ErrCardUnresponsive):
		return CodeUnsupportedCard
	}
	return CodeInternal
}

// FromError makes the error object for err.
func FromError(err error) Error {
	return Error{Code: CodeOf(err), Message: err.Error()}
}
