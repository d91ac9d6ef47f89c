package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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

// TestBodyLimitSlowClient is the attack of a client that is still sending an
// oversized body when the 413 comes: the server must let it finish writing
// (reading and discarding the rest, within bounds) and then read the 413,
// instead of closing with unread bytes, which resets the connection
// (Python's urllib and Node's http client see ECONNRESET).
func TestBodyLimitSlowClient(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(bodyLimit(MaxBodyBytes))
	e.POST("/echo", func(c *gin.Context) {
		if _, err := io.ReadAll(c.Request.Body); err != nil {
			writeJSONError(c, http.StatusRequestEntityTooLarge, "invalid_request", "too large")
			return
		}
		c.String(http.StatusOK, "ok")
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	// Each client takes about a second to send its body: longer than the
	// 500ms net/http waits before closing a connection with unread input. The
	// chunked body is larger because net/http itself discards up to 512 KiB of
	// it after the handler.
	const chunk = 16 << 10
	tests := []struct {
		name    string
		total   int
		pause   time.Duration
		header  string
		framing func(p []byte) []byte
		end     string
	}{
		{"declared Content-Length", 1 << 20, 15 * time.Millisecond, fmt.Sprintf("Content-Length: %d\r\n", 1<<20), func(p []byte) []byte { return p }, ""},
		{"chunked", 2 << 20, 8 * time.Millisecond, "Transfer-Encoding: chunked\r\n", func(p []byte) []byte {
			return append(append([]byte(fmt.Sprintf("%x\r\n", len(p))), p...), "\r\n"...)
		}, "0\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := io.WriteString(conn, "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: application/octet-stream\r\n"+tc.header+"\r\n"); err != nil {
				t.Fatal(err)
			}
			part := bytes.Repeat([]byte("x"), chunk)
			for sent := 0; sent < tc.total; sent += chunk {
				if _, err := conn.Write(tc.framing(part)); err != nil {
					t.Fatalf("write error after %d bytes: %v (the server reset the connection)", sent, err)
				}
				time.Sleep(tc.pause)
			}
			if _, err := io.WriteString(conn, tc.end); err != nil {
				t.Fatalf("write error at the end of the body: %v", err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("reading the answer: %v (the server reset the connection)", err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("reading the answer's body: %v", err)
			}
			if resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
				t.Fatalf("got %d (Connection: %q) %q; want 413 with Connection: close", resp.StatusCode, resp.Header.Get("Connection"), body)
			}
		})
	}
}

// TestBodyLimitAnswersBeforeDraining: the 413 is flushed before the rest of
// the body is discarded, so a client that stops sending reads it at once.
func TestBodyLimitAnswersBeforeDraining(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(bodyLimit(MaxBodyBytes))
	e.POST("/echo", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	srv := httptest.NewServer(e)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1048576\r\n\r\n"+strings.Repeat("x", 1000)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(drainTimeout / 2))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer while the body is still due: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !resp.Close {
		t.Fatalf("got %d (Connection: %q); want 413 with Connection: close", resp.StatusCode, resp.Header.Get("Connection"))
	}
}
