package server

import (
	"crypto/rand"
	"encoding/hex"
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

// bodyLimit answers 413 at once for a declared oversized body and caps the
// rest, so a handler reading past the limit gets *http.MaxBytesError.
func bodyLimit(limit int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > limit {
			writeJSONError(c, http.StatusRequestEntityTooLarge, "invalid_request", "The request body is larger than the 64 KiB limit.")
			c.Abort()
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		c.Next()
	}
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
