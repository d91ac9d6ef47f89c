package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestMiddleware(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(requestID(), recovery(log), observe(log, newMetrics()), bodyLimit(16))
	e.GET("/panic", func(*gin.Context) { panic("boom: secret detail") })
	e.POST("/echo", func(c *gin.Context) {
		b, err := io.ReadAll(c.Request.Body)
		if err != nil {
			c.Status(http.StatusRequestEntityTooLarge)
			return
		}
		c.String(http.StatusOK, string(b))
	})

	t.Run("panic becomes a JSON 500 without detail", func(t *testing.T) {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/panic", nil))
		var body map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 500 || body["error"] != "server_error" {
			t.Fatalf("got %d %q", w.Code, w.Body.String())
		}
		if strings.Contains(w.Body.String(), "boom") || !strings.Contains(body["error_description"], w.Header().Get("X-Request-Id")) {
			t.Fatalf("the answer leaks the panic or lacks the request id: %q", w.Body.String())
		}
		if !strings.Contains(logs.String(), "boom: secret detail") {
			t.Fatal("the panic was not logged")
		}
	})
	t.Run("declared oversized body is 413 at once", func(t *testing.T) {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/echo", strings.NewReader(strings.Repeat("x", 17))))
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("got %d", w.Code)
		}
	})
	t.Run("undeclared oversized body is cut at the limit", func(t *testing.T) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/echo", io.MultiReader(strings.NewReader(strings.Repeat("x", 40))))
		r.ContentLength = -1
		e.ServeHTTP(w, r)
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("got %d %q", w.Code, w.Body.String())
		}
	})
	t.Run("request id is kept when sane and replaced when not", func(t *testing.T) {
		for in, keep := range map[string]bool{"abc-123": true, "bad id\n": false, strings.Repeat("a", 65): false} {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/echo", strings.NewReader("hi"))
			r.Header.Set("X-Request-Id", in)
			e.ServeHTTP(w, r)
			if got := w.Header().Get("X-Request-Id"); (got == in) != keep || got == "" {
				t.Errorf("in %q: out %q", in, got)
			}
		}
	})
	t.Run("access log has the route, not the query", func(t *testing.T) {
		logs.Reset()
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/echo?client_secret=hunter2", strings.NewReader("hi")))
		if !strings.Contains(logs.String(), "route=/echo") || strings.Contains(logs.String(), "hunter2") {
			t.Fatalf("log: %q", logs.String())
		}
	})
}
