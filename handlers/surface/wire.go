package surface

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gin-gonic/gin/binding"

	"github.com/latchkey/latchkey/accounts"
	"github.com/latchkey/latchkey/core"
)

// Bearer reads an RFC 6750 §2.1 "Authorization: Bearer <token>" header; ok
// is false when there is none or it is empty.
func Bearer(r *http.Request) (token string, ok bool) {
	scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// ErrBadBasic is returned by RawBasic for a Basic header that is malformed.
var ErrBadBasic = errors.New("surface: the Basic credentials must be base64 of two non-empty parts joined by a colon")

// RawBasic reads an "Authorization: Basic base64(user:password)" header
// strictly and without form-unescaping either part (RFC 7617; unlike the
// client credentials of RFC 6749 §2.3.1, which core decodes itself): the
// split is at the first colon, and bad base64, no colon or an empty part is
// ErrBadBasic. ok is false when the request has no Basic header.
func RawBasic(r *http.Request) (user, password string, ok bool, err error) {
	scheme, value, found := strings.Cut(r.Header.Get("Authorization"), " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false, nil
	}
	raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if derr != nil {
		return "", "", true, ErrBadBasic
	}
	user, password, found = strings.Cut(string(raw), ":")
	if !found || user == "" || password == "" {
		return "", "", true, ErrBadBasic
	}
	return user, password, true, nil
}

// Body errors of Bind.
var (
	// ErrBodyTooLarge: the body is over the server's cap; answer 413.
	ErrBodyTooLarge = errors.New("surface: the request body is larger than the 64 KiB limit")
	// ErrBadBody: the body is not a JSON object or a form of the declared
	// type; answer 400 with its message.
	ErrBadBody = errors.New("surface: the request body is not valid")
)

// BodyError is a bad body with a message for the caller.
type BodyError struct {
	Message string
	Err     error // ErrBodyTooLarge or ErrBadBody
}

func (e *BodyError) Error() string { return e.Message }
func (e *BodyError) Unwrap() error { return e.Err }

// Status is the HTTP status to answer: 413 or 400.
func (e *BodyError) Status() int {
	if errors.Is(e.Err, ErrBodyTooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// Bind decodes the request body into v: JSON when the Content-Type is
// application/json (or +json), else an application/x-www-form-urlencoded
// form mapped by the fields' `form` tags, as clients of every era send one
// or the other. An empty body leaves v as it is. The body is read under the
// cap the server set, so an oversized one is ErrBodyTooLarge. Its errors
// are *BodyError with our own message, never the decoder's text.
func Bind(c *gin.Context, v any) error {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &BodyError{Message: "The request body is larger than the 64 KiB limit.", Err: ErrBodyTooLarge}
		}
		return &BodyError{Message: "The request body could not be read.", Err: ErrBadBody}
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		if err := json.Unmarshal(body, v); err != nil {
			return &BodyError{Message: "The request body is not a JSON object of the expected fields and types.", Err: ErrBadBody}
		}
		return nil
	case mt == "application/x-www-form-urlencoded" || mt == "":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return &BodyError{Message: "The request body is not a valid application/x-www-form-urlencoded form.", Err: ErrBadBody}
		}
		if err := binding.MapFormWithTag(v, form, "form"); err != nil {
			return &BodyError{Message: "A form field has the wrong type.", Err: ErrBadBody}
		}
		return nil
	}
	return &BodyError{Message: "Send the body as application/json or application/x-www-form-urlencoded.", Err: ErrBadBody}
}

// IsUnavailable reports whether err means "retry later" (the database did
// not answer, or the bound on slow hashes stayed full): answer 503 with
// Retry-After.
func IsUnavailable(err error) bool {
	return errors.Is(err, core.ErrUnavailable) || errors.Is(err, accounts.ErrUnavailable) || errors.Is(err, accounts.ErrBusy)
}

// Unavailable sets the Retry-After header of a 503 answer.
func Unavailable(c *gin.Context) {
	c.Header("Retry-After", "1")
}
