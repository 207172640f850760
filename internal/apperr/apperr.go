// Package apperr defines the error kinds the API reports. Code below the GraphQL layer returns these
// (or wraps them); the presenter in graph turns them into extensions.code, once.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies an error by what the client should do about it.
type Kind int

// The kinds, each with its GraphQL extensions.code.
const (
	Internal        Kind = iota // INTERNAL_SERVER_ERROR: our fault; details only in the log
	Invalid                     // BAD_USER_INPUT: fix the named field
	Unauthenticated             // UNAUTHENTICATED: sign in
	Forbidden                   // FORBIDDEN: signed in, not allowed
	NotFound                    // NOT_FOUND: no such thing, or not visible to the viewer
	Conflict                    // CONFLICT: clashes with existing state (e.g. username taken)
	RateLimited                 // RATE_LIMITED: retry after RetryAfter
	Unavailable                 // SERVICE_UNAVAILABLE: a dependency is down; retry later
	BadRequest                  // BAD_REQUEST: not a GraphQL request the server accepts (body, method, headers)
	Timeout                     // TIMEOUT: the operation ran out of time (AGORA_OPERATION_TIMEOUT or the statement timeout)
	TooLarge                    // PAYLOAD_TOO_LARGE: over a size limit, named in Limit
	Disabled                    // FEATURE_DISABLED: the feature is not configured on this server
	Cancelled                   // CANCELLED: the client hung up or stopped the operation first; only logs and metrics see it
)

var codes = [...]string{
	Internal:        CodeInternal,
	Invalid:         CodeInvalid,
	Unauthenticated: CodeUnauthenticated,
	Forbidden:       CodeForbidden,
	NotFound:        CodeNotFound,
	Conflict:        CodeConflict,
	RateLimited:     CodeRateLimited,
	Unavailable:     CodeUnavailable,
	BadRequest:      CodeBadRequest,
	Timeout:         CodeTimeout,
	TooLarge:        CodePayloadTooLarge,
	Disabled:        CodeFeatureDisabled,
	Cancelled:       CodeCancelled,
}

// Code is the GraphQL extensions.code of the kind.
func (k Kind) Code() string { return codes[k] }

// Error is an error of a known kind with a message fit for the client.
type Error struct {
	Kind       Kind
	Message    string        // shown to the client (except for Internal)
	Field      string        // input field at fault, for Invalid and Conflict
	Reason     string        // extensions.reason: which case of its kind, when clients act on it (REFRESH_TOKEN_REUSED…)
	RetryAfter time.Duration // for RateLimited
	Limit      *Limit        // the limit a refusal names (extensions.limit and extensions.max), for Invalid and TooLarge
	Err        error         // cause, for the log only
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Err != nil {
		return msg + ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// InvalidField reports bad input in one field.
func InvalidField(field, format string, args ...any) error {
	return &Error{Kind: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ConflictField reports input that clashes with existing data.
func ConflictField(field, format string, args ...any) error {
	return &Error{Kind: Conflict, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFoundf reports that something does not exist or is not visible to the viewer.
func NotFoundf(format string, args ...any) error {
	return &Error{Kind: NotFound, Message: fmt.Sprintf(format, args...)}
}

// Forbiddenf reports that the viewer may not do this.
func Forbiddenf(format string, args ...any) error {
	return &Error{Kind: Forbidden, Message: fmt.Sprintf(format, args...)}
}

// Limit is a named limit a refusal reports: clients read which one and its value.
type Limit struct {
	Name string // e.g. maxBytes, maxPixels, storageQuotaBytes
	Max  int64
}

// OverLimit refuses input over a limit: kind TooLarge (sizes) or Invalid, naming field and limit.
func OverLimit(kind Kind, field, name string, max int64, format string, args ...any) error {
	return &Error{Kind: kind, Field: field, Message: fmt.Sprintf(format, args...), Limit: &Limit{Name: name, Max: max}}
}

// ErrPaymentsDisabled is returned by the payment operations when Stripe is not configured.
var ErrPaymentsDisabled = &Error{Kind: Disabled, Message: "payments are not enabled on this server (STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET)"}

// ErrUnauthenticated is returned when an operation needs a signed-in viewer.
var ErrUnauthenticated = &Error{Kind: Unauthenticated, Message: "sign in required"}
