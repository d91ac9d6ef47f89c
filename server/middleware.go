package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// MaxBodyBytes caps every request body (SPEC §8).
const MaxBodyBytes = 64 << 10

const requestIDHeader = "X-Request-Id"

// requestID reuses a sane incoming X-Request-Id or makes one, and echoes it.
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(requestIDHeader)
		if !validRequestID(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Writer.Header().Set(requestIDHeader, id)
		c.Next()
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Bounds on reading and discarding the rest of an oversized body after its
// 413 has been sent.
const (
	maxDrainBytes = 4 << 20
	drainTimeout  = 2 * time.Second
)

// bodyLimit answers 413 at once for a declared oversized body and caps the
// rest, so a handler reading past the limit gets *http.MaxBytesError.
//
// Either way the 413 goes out with Connection: close, is flushed, and then
// the rest of the original body is read and discarded (at most
// maxDrainBytes, for at most drainTimeout): a client that writes its whole
// body before reading the answer (Python's urllib, Node's http client) could
// otherwise not finish writing, and net/http closing a connection with
// unread input resets it, which destroys the 413 the client has not read.
func bodyLimit(limit int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		orig := c.Request.Body
		if c.Request.ContentLength > limit {
			c.Header("Connection", "close")
			writeJSONError(c, http.StatusRequestEntityTooLarge, "invalid_request", "The request body is larger than the 64 KiB limit.")
			c.Abort()
			if c.Request.ContentLength <= maxDrainBytes {
				flushAndDrain(c, orig)
			}
			return
		}
		lb := &limitedBody{ReadCloser: http.MaxBytesReader(c.Writer, orig, limit), w: c.Writer}
		c.Request.Body = lb
		c.Next()
		if lb.hit || c.Writer.Status() == http.StatusRequestEntityTooLarge {
			if !c.Writer.Written() {
				c.Header("Connection", "close")
			}
			flushAndDrain(c, orig)
		}
	}
}

// limitedBody is the capped body handlers read. When the cap is hit it
// marks the answer Connection: close while it can still be changed, as
// net/http's own MaxBytesReader does for an unwrapped ResponseWriter.
type limitedBody struct {
	io.ReadCloser
	w   gin.ResponseWriter
	hit bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooBig *http.MaxBytesError
	if err != nil && !b.hit && errors.As(err, &tooBig) {
		b.hit = true
		if !b.w.Written() {
			b.w.Header().Set("Connection", "close")
		}
	}
	return n, err
}

// flushAndDrain sends the answer written so far, then reads and discards
// what is left of body, within maxDrainBytes and drainTimeout, so the client
// can finish sending and read the answer. Without a read deadline (a writer
// that cannot set one) it drains nothing rather than wait without a bound.
func flushAndDrain(c *gin.Context, body io.ReadCloser) {
	rc := http.NewResponseController(c.Writer)
	if !c.Writer.Written() {
		c.Writer.WriteHeaderNow()
	}
	if err := rc.Flush(); err != nil || body == nil || body == http.NoBody {
		return
	}
	if err := rc.SetReadDeadline(time.Now().Add(drainTimeout)); err != nil {
		return
	}
	_, _ = io.CopyN(io.Discard, body, maxDrainBytes)
}

// recovery turns a panic into a JSON 500 that shows no detail; the stack goes
// to the log with the request id.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.Error("panic while serving a request", "request_id", c.Writer.Header().Get(requestIDHeader),
					"route", c.FullPath(), "panic", p, "stack", string(debug.Stack()))
				if !c.Writer.Written() {
					writeJSONError(c, http.StatusInternalServerError, "server_error",
						"Internal error; quote request id "+c.Writer.Header().Get(requestIDHeader)+" when reporting it.")
				}
				c.Abort()
			}
		}()
		c.Next()
	}
}

// observe records metrics and writes one access-log line per request. It
// logs the route template, never the query string or body (which may hold
// secrets).
func observe(log *slog.Logger, m *metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		elapsed := time.Since(start)
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		status := c.Writer.Status()
		m.requests.WithLabelValues(route, c.Request.Method, strconv.Itoa(status)).Inc()
		m.latency.WithLabelValues(route, c.Request.Method).Observe(elapsed.Seconds())
		if log.Enabled(c.Request.Context(), slog.LevelInfo) {
			log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request",
				slog.String("method", c.Request.Method), slog.String("route", route),
				slog.Int("status", status), slog.Duration("duration", elapsed),
				slog.String("remote", c.ClientIP()), slog.String("request_id", c.Writer.Header().Get(requestIDHeader)))
		}
	}
}

func writeJSONError(c *gin.Context, status int, code, description string) {
	c.Header("Cache-Control", "no-store")
	c.JSON(status, gin.H{"error": code, "error_description": description})
}
