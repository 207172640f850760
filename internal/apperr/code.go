package apperr

// The extensions.code values the API answers with, each defined once: clients branch on them, so
// they are part of the public contract (README.md and docs/security.md list them).
//
// They are untyped string constants on purpose: a code travels in GraphQL extensions
// (map[string]any) and is read back as a string (the access log, metrics), which a named string
// type would silently fail.
const (
	// The codes of the kinds (Kind.Code).
	CodeInternal        = "INTERNAL_SERVER_ERROR"
	CodeInvalid         = "BAD_USER_INPUT"
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeNotFound        = "NOT_FOUND"
	CodeConflict        = "CONFLICT"
	CodeRateLimited     = "RATE_LIMITED"
	CodeUnavailable     = "SERVICE_UNAVAILABLE"
	CodeBadRequest      = "BAD_REQUEST"
	CodeTimeout         = "TIMEOUT"
	CodeFeatureDisabled = "FEATURE_DISABLED"
	CodeCancelled       = "CANCELLED" // in the access log and metrics: no client reads an answer it hung up on

	// Refusals of a request before any GraphQL runs (HTTP guards).
	CodePayloadTooLarge  = "PAYLOAD_TOO_LARGE"         // the body is over AGORA_MAX_BODY_BYTES
	CodeCSRFPrevented    = "CSRF_PREVENTED"            // a request a browser sends cross-site without a preflight
	CodeBatchingDisabled = "BATCHING_DISABLED"         // a JSON array of operations while AGORA_BATCH_MAX is 0
	CodeBatchTooLarge    = "BATCH_TOO_LARGE"           // more operations than AGORA_BATCH_MAX
	CodeNotTrusted       = "OPERATION_NOT_TRUSTED"     // not a document of the trusted-documents manifest
	CodeDocumentNotFound = "PERSISTED_QUERY_NOT_FOUND" // a document ID the manifest does not hold
	CodeNotAcceptable    = "NOT_ACCEPTABLE"            // no answer of a type the request accepts (a subscription asked for as one JSON response)

	// Refusals of an operation by the GraphQL server's checks.
	CodeOperationLimit        = "OPERATION_LIMIT"        // beyond a depth, alias, root-field, token or cost limit
	CodeIntrospectionDisabled = "INTROSPECTION_DISABLED" // __schema or __type while introspection is off
)
